"""``pyqmp shell``: the interactive monitor, qmp-shell's syntax over pyqmp's client.

Parses the options, connects (bounded by ``--timeout``), then hands the connected client to
:mod:`pyqmp.shell`: the prompt when stdin is a terminal, the scripted loop otherwise.  Exit
statuses are ``pyqmp client``'s: 2 for a usage mistake, 3 when connecting timed out, 4 when
the connection failed or was lost; 0 at Ctrl-D (or the end of a script whose lines all
worked), 1 when a scripted line failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any

from pyqmp.cli.client_command import (
    DEFAULT_TIMEOUT,
    EXIT_CONNECTION,
    EXIT_TIMEOUT,
    _positive_seconds,
)

if TYPE_CHECKING:
    from pathlib import Path

HISTORY_NAME = "shell_history"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address", metavar="ADDRESS", help="unix:PATH, tcp:HOST:PORT or a socket path"
    )
    parser.add_argument(
        "-H",
        "--hmp",
        action="store_true",
        help="the human monitor: each line goes through human-monitor-command",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for connecting and for each reply (default {DEFAULT_TIMEOUT:g})",
    )


def default_history() -> Path | None:
    """$XDG_STATE_HOME/pyqmp/shell_history (~/.local/state/... by default)."""
    from pathlib import Path

    state = os.environ.get("XDG_STATE_HOME")
    if state:
        return Path(state) / "pyqmp" / HISTORY_NAME
    home = os.environ.get("HOME")
    return Path(home) / ".local" / "state" / "pyqmp" / HISTORY_NAME if home else None


def _fail(message: str, status: int) -> int:
    print(f"pyqmp shell: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    """Run the command line in ``args`` and return the exit status."""
    from pyqmp.client import AddressError, parse_address

    try:
        address = parse_address(args.address)
    except AddressError as error:
        return _fail(str(error), 2)
    return asyncio.run(_run(address, args.hmp, args.timeout, sys.stdin.isatty()))


async def _run(address: Any, hmp: bool, timeout: float, interactive: bool) -> int:
    from pyqmp.client import ConnectError, ConnectionLost, QMPClient
    from pyqmp.shell.session import ShellSession

    async with QMPClient("pyqmp-shell") as qmp:
        try:
            await qmp.connect(address, timeout=timeout)
        except ConnectError as error:
            timed_out = isinstance(error.__cause__, TimeoutError)
            return _fail(str(error), EXIT_TIMEOUT if timed_out else EXIT_CONNECTION)
        session = ShellSession(qmp, hmp=hmp, timeout=timeout)
        try:
            if not interactive:
                from pyqmp.shell.script import run_script

                return await run_script(session)
            await session.load_completion()
        except ConnectionLost as error:
            return _fail(f"connection lost: {error}", EXIT_CONNECTION)
        from pyqmp.shell.terminal import run_interactive

        return await run_interactive(session, default_history())
