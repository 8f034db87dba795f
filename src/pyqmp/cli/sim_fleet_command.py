"""The ``pyqmp sim-fleet`` command: a simulated fleet for tests and benchmarks
(:mod:`pyqmp.machine.sim_fleet`)."""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="where the monitors' sockets go")
    parser.add_argument("--count", metavar="N", type=int, required=True, help="how many machines")
    parser.add_argument(
        "--prefix", metavar="P", default="vm-", help="machine names: P0, P1, ... (default vm-)"
    )
    parser.add_argument(
        "-m", dest="ram", metavar="SIZE", default="128M", help="each machine's RAM (default 128M)"
    )
    parser.add_argument(
        "-S", dest="start_paused", action="store_true", help="machines start paused (prelaunch)"
    )
    parser.add_argument(
        "--events",
        metavar="N",
        type=int,
        default=0,
        help="on SIGUSR1, make N events (stop/cont, round robin over the machines)",
    )
    parser.add_argument(
        "--rate",
        metavar="R",
        type=float,
        default=1000.0,
        help="events a second for --events (default 1000)",
    )


def run(args: argparse.Namespace) -> int:
    from pyqmp import event_loop
    from pyqmp.machine.options import OptionError, parse_ram_size
    from pyqmp.machine.sim_fleet import FleetConfig, serve

    try:
        ram_size = parse_ram_size(args.ram)
        if not 1 <= args.count <= 100_000:
            raise OptionError(f"invalid --count {args.count}: expected 1 to 100000")
        if args.events < 0 or not 0 < args.rate <= 1_000_000:
            raise OptionError("expected --events >= 0 and 0 < --rate <= 1000000")
        if not os.path.isdir(args.directory):
            raise OptionError(f"{args.directory!r} is not a directory")
    except OptionError as error:
        print(f"pyqmp sim-fleet: {error}", file=sys.stderr)
        return 2
    config = FleetConfig(
        args.directory,
        args.count,
        args.prefix,
        ram_size,
        args.start_paused,
        args.events,
        args.rate,
    )
    try:
        event_loop.run(serve(config, lambda line: print(line, flush=True)))
    except OSError as error:
        print(f"pyqmp sim-fleet: {error}", file=sys.stderr)
        return 1
    return 0
