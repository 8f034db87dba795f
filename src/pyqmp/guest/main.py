"""The guest process's command line: ``--fd N --ram BYTES [--fault MODE] [--seed N]``.

The machine starts the guest with one end of a socketpair inherited as file descriptor N.
The guest ignores the terminal's interrupt key: like a real guest, it lives as long as
its machine, and goes when the machine goes (EOF on the channel, or a new parent).
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from collections.abc import Sequence

from ..channel import FAULT_MODES
from .driver import Guest
from .memory import GuestMemory


def byte_count(text: str) -> int:
    """``--ram``: a plain number of bytes.  Sizes with suffixes are the machine's to parse
    (``-m 256M``, :func:`pyqmp.machine.options.parse_ram_size`); the guest only ever gets
    the bytes."""
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(
            f"expected a number of bytes (e.g. 268435456), got {text!r}"
        )
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyqmp guest",
        description="The reference machine's guest: RAM, a workload and a balloon driver "
        "on an inherited socket.",
    )
    parser.add_argument(
        "--fd",
        type=int,
        required=True,
        help="file descriptor of the guest channel (a connected socket)",
    )
    parser.add_argument(
        "--ram",
        type=byte_count,
        required=True,
        metavar="BYTES",
        help="guest RAM size (whole 4 KiB pages are used)",
    )
    parser.add_argument(
        "--fault",
        choices=sorted(FAULT_MODES),
        default="none",
        help="misbehave from the start (default: none)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for the workload's choices (default: random)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the guest until its life ends; the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        channel = socket.socket(fileno=args.fd)
    except OSError as error:
        print(f"pyqmp guest: --fd {args.fd} is not a usable socket: {error}", file=sys.stderr)
        return 2
    try:
        memory = GuestMemory(args.ram)
    except (ValueError, OSError) as error:
        print(f"pyqmp guest: cannot allocate {args.ram} bytes of RAM: {error}", file=sys.stderr)
        channel.close()
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return Guest(channel, memory, FAULT_MODES[args.fault], seed=args.seed).run()
