"""The shell without a terminal: lines read from stdin, run one after another.

For scripts (``pyqmp shell unix:vm.sock < commands``): each line's answer and every event
go to stdout as the interactive shell prints them, error replies and refused lines too
(stdout keeps the order they happened in).  Its one rule: a line is read only after the one
before it was answered.  The exit status says how it went: 0 when every line did what it
asked, 1 when some did not, 4 when the connection was lost (the rest is not run).
"""

from __future__ import annotations

import asyncio
import sys

from ..client import ConnectionLost
from .session import ShellSession, show_events

EXIT_SOME_FAILED = 1
EXIT_CONNECTION = 4


def _print(text: str) -> None:
    print(text, flush=True)


async def run_script(session: ShellSession) -> int:
    """Run stdin's lines until its end; see the module's head for the exit status."""

    printer = asyncio.create_task(show_events(session.qmp, _print))
    failed = False
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            if printer.done():  # the connection went while nothing was asked of it
                printer.result()
            answer = await session.run_line(line)
            failed = failed or not answer.ok
            if answer.text is not None:
                print(answer.text, flush=True)
    except ConnectionLost as error:
        print(f"pyqmp shell: connection lost: {error}", file=sys.stderr)
        return EXIT_CONNECTION
    finally:
        printer.cancel()
        await asyncio.gather(printer, return_exceptions=True)
    return EXIT_SOME_FAILED if failed else 0
