"""The examples/ scripts run as a user runs them: bindings generated with the real command
line, the script started as its own process, its output read."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from qmp_targets import Target, TargetProcess

from pyqmp.client import ExecuteError, QMPClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEADLINE = 20.0


def pyqmp(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pyqmp", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def with_path(directory: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": directory}


async def use_counter(path: str) -> None:
    async with QMPClient("counter", timeout=DEADLINE) as qmp:
        await qmp.connect(path, timeout=DEADLINE)
        with qmp.events("COUNTER_CHANGED") as changed:
            assert await qmp.execute("counter-add", {"amount": 3}) == {"value": 3}
            assert await qmp.execute("counter-add", {"amount": 4}) == {"value": 7}
            assert (await changed.get(timeout=DEADLINE)).data == {"value": 3}
            assert (await changed.get(timeout=DEADLINE)).data == {"value": 7}
        try:
            await qmp.execute("counter-add", {"amount": "x"})
        except ExecuteError as error:
            assert error.desc == "Invalid parameter type for 'amount', expected: integer"
        else:
            raise AssertionError("a string amount was accepted")


def test_serve_counter() -> None:
    with tempfile.TemporaryDirectory(prefix="pyqmp-example-") as directory:
        pyqmp("schema", "gen", "python", str(EXAMPLES / "counter.json"), "-o", directory)
        path = os.path.join(directory, "counter.sock")
        server = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "serve_counter.py"), path],
            env=with_path(directory), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            assert server.stdout.readline() == f"serving on {path}\n"
            asyncio.run(use_counter(path))
        finally:
            server.kill()
            server.wait(timeout=DEADLINE)


def test_drive_qemu(server_target: Target) -> None:
    """drive_qemu.py binds and drives QEMU 7.2 and `pyqmp machine` alike."""
    with (
        tempfile.TemporaryDirectory(prefix="pyqmp-example-") as directory,
        server_target.start([os.path.join(directory, "qmp.sock")]) as vm,
    ):
        address = vm.sockets[0]
        pyqmp("schema", "gen", "python", "--from", address, "-o", directory, "--package",
              "qemu_api")  # fmt: skip
        done = run_example("drive_qemu.py", address, env=with_path(directory))
        assert done.stdout.splitlines()[:4] == [
            "status: prelaunch running: False",
            "balloon: 128 MiB",
            "refused: GenericError Parameter 'target' expects a size",
            "event: RESUME",
        ]


def run_example(script: str, *args: str, env: dict[str, str] | None = None) -> Any:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_events(running: TargetProcess) -> None:
    lines = run_example("events.py", running.sockets[0]).stdout.splitlines()
    assert lines[0].split() == ["RESUME", "STOP"] * 10
    assert lines[1:] == [
        "unread: 4 held, 16 dropped",
        "waited for: RESUME",
        "no SHUTDOWN within 0.5 s",
    ]


def test_timeouts() -> None:
    """timeouts.py starts, freezes and kills its own `pyqmp machine`."""
    lines = run_example("timeouts.py").stdout.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("frozen: ") and "no reply to 'query-status' within 1 s" in lines[0]
    assert lines[1:] == ["thawed: prelaunch", "killed: ConnectionLost"]
