"""The ``pyqmp`` command's entry point.

``pyqmp schema check FILE`` is timed as a whole process against QEMU's schema front end,
and building the full argparse parser costs a noticeable part of it; that one exact form
is dispatched directly.  Every other command line — help, errors, other commands, and
check with options — goes through :mod:`pyqmp.cli.main`.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # the start-up is timed: annotations need no import
if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 3 and args[0] == "schema" and args[1] == "check" and args[2][:1] != "-":
        from pyqmp.cli.schema_commands import run_check

        return run_check(args[2])
    from pyqmp.cli.main import main as full_main

    return full_main(args)
