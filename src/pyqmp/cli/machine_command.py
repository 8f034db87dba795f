"""The ``pyqmp machine`` command: options to a running reference machine."""

from __future__ import annotations

import argparse
import sys

DEFAULT_SOCKET = "pyqmp.sock"
# The server's (pyqmp.server.runtime.DEFAULT_MAX_CONNECTIONS); not imported, to keep the
# command line's start-up light.  A test holds the two equal.
DEFAULT_MAX_CONNECTIONS = 256
# A command line the machine cannot honour: it does not start.
EXIT_BAD_OPTION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-S", dest="start_paused", action="store_true", help="do not start the guest until 'cont'"
    )
    parser.add_argument(
        "-m",
        dest="ram",
        metavar="SIZE",
        default="128M",
        help="guest RAM, as QEMU takes it: 512 (MiB), 512M, 1G (default 128M)",
    )
    parser.add_argument("--name", metavar="N", help="the machine's name (query-name)")
    parser.add_argument("--uuid", metavar="U", help="the machine's UUID (query-uuid)")
    parser.add_argument(
        "--balloon",
        metavar="id=ID",
        default="id=balloon0",
        help="the balloon device's id (default id=balloon0; 'none' for no balloon)",
    )
    parser.add_argument(
        "--qmp",
        metavar="ADDRESS",
        action="append",
        default=[],
        help="a QMP monitor (repeatable; default unix:"
        f"{DEFAULT_SOCKET}): unix:PATH[,uid=U:U..][,gid=G:G..][,mode=0600] or "
        "tcp:HOST:PORT[,tls-creds=DIR][,verify-peer=on|off], either with "
        "[,read-only=on][,allow=GLOB:GLOB..][,deny=GLOB:GLOB..][,max-connections=N]"
        "[,negotiation-timeout=SECONDS]",
    )
    parser.add_argument(
        "--max-connections",
        metavar="N",
        default=str(DEFAULT_MAX_CONNECTIONS),
        help=f"concurrent monitor connections over all monitors (default "
        f"{DEFAULT_MAX_CONNECTIONS}); past it new ones are closed, with the reason logged",
    )
    parser.add_argument(
        "--guest-fault",
        metavar="MODE",
        choices=["hang", "crash", "garbage", "flood", "lie", "slow"],
        help="make the first guest misbehave from the start: hang, crash, garbage, flood, lie, "
        "slow (a fresh guest after a reset behaves)",
    )
    parser.add_argument("--compat", metavar="POLICY", help="compatibility policy (not built yet)")


def run(args: argparse.Namespace) -> int:
    import uuid as uuid_module

    from pyqmp.machine.app import run as run_machine
    from pyqmp.machine.machine import MachineConfig
    from pyqmp.machine.options import (
        OptionError,
        parse_count,
        parse_device_id,
        parse_monitor_address,
        parse_ram_size,
    )

    if args.compat is not None:
        print("pyqmp machine: --compat is not built yet", file=sys.stderr)
        return 2
    try:
        ram_size = parse_ram_size(args.ram)
        balloon_id = None if args.balloon == "none" else parse_device_id(args.balloon)
        if args.guest_fault is not None and balloon_id is None:
            raise OptionError("--guest-fault needs a balloon (a guest): not with --balloon none")
        addresses = [parse_monitor_address(text) for text in args.qmp] or [
            parse_monitor_address(f"unix:{DEFAULT_SOCKET}")
        ]
        machine_uuid = str(uuid_module.UUID(args.uuid)) if args.uuid else None
        max_connections = parse_count("--max-connections", args.max_connections)
    except (OptionError, ValueError) as error:
        print(f"pyqmp machine: {error}", file=sys.stderr)
        return EXIT_BAD_OPTION
    config = MachineConfig(
        ram_size=ram_size,
        start_paused=args.start_paused,
        name=args.name,
        uuid=machine_uuid,
        balloon_id=balloon_id,
    )
    if not args.qmp:
        print(
            f"pyqmp machine: connect with `pyqmp shell unix:{DEFAULT_SOCKET}` or any QMP "
            f"client (e.g. qmp-shell {DEFAULT_SOCKET})",
            flush=True,
        )
    return run_machine(config, addresses, args.guest_fault, max_connections)
