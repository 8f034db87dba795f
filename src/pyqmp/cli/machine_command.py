"""The ``pyqmp machine`` command: options to a running reference machine."""

from __future__ import annotations

import argparse
import sys

DEFAULT_SOCKET = "pyqmp.sock"


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
        help="a QMP monitor: unix:PATH or tcp:HOST:PORT (repeatable; default "
        f"unix:{DEFAULT_SOCKET})",
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
        addresses = [parse_monitor_address(text) for text in args.qmp] or [
            parse_monitor_address(f"unix:{DEFAULT_SOCKET}")
        ]
        machine_uuid = str(uuid_module.UUID(args.uuid)) if args.uuid else None
    except (OptionError, ValueError) as error:
        print(f"pyqmp machine: {error}", file=sys.stderr)
        return 2
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
    return run_machine(config, addresses, args.guest_fault)
