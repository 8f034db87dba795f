"""QEMU's interactive qmp-shell (shipped with qemu.qmp) against QEMU and `pyqmp machine`.

Driven through a pseudo-terminal, as a person types: a partial command and TAB (readline
completion, which qmp-shell fills from query-commands in QMP mode and from HMP's `help` and
`info` listings in HMP mode, `-H`), then Enter; the answer must appear on the screen.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pty_terminal import Terminal
from qmp_targets import Target, make_target

TARGET_NAMES = ["qemu", "pyqmp"]


def qmp_shell_command() -> str:
    script = Path(sys.executable).parent / "qmp-shell"
    found = str(script) if script.exists() else shutil.which("qmp-shell")
    if found is None:
        pytest.fail("qmp-shell (from the qemu.qmp package) is not installed: run ./test.sh")
    return found


@pytest.fixture(params=TARGET_NAMES)
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "qemu":
        return make_target("qemu", str(request.getfixturevalue("qemu_binary")))
    return make_target(request.param)


@contextmanager
def shell(target: Target, *options: str) -> Iterator[Terminal]:
    with tempfile.TemporaryDirectory() as directory:
        sock = os.path.join(directory, "qmp.sock")
        with target.start([sock]):
            terminal = Terminal([qmp_shell_command(), *options, sock])
            try:
                yield terminal
            finally:
                terminal.close()


def test_qmp_mode_with_tab_completion(target: Target) -> None:
    with shell(target) as terminal:
        terminal.wait_for("(QEMU)")
        terminal.type("query-statu\t\n")  # completes to query-status
        screen = terminal.wait_for('"status": "prelaunch"')
        assert "query-status" in screen
        terminal.type("cont\n")
        terminal.type("query-status\n")
        terminal.wait_for('"status": "running"')
        terminal.type("balloon value=0\n")
        terminal.wait_for("Parameter 'target' expects a size")


def test_hmp_mode_with_tab_completion(target: Target) -> None:
    with shell(target, "-H") as terminal:
        terminal.wait_for("(QEMU)")
        terminal.type("info statu\t\n")  # completes to info status
        terminal.wait_for("VM status: paused (prelaunch)")
        terminal.type("cont\n")
        terminal.type("info status\n")
        terminal.wait_for("VM status: running")
        terminal.type("info ball\t\n")
        terminal.wait_for("balloon: actual=128")
