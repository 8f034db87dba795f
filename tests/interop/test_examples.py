"""The examples/ scripts run as a user runs them: bindings generated with the real command
line, the script started as its own process, its output read."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from qmp_targets import make_target

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


def test_drive_qemu(qemu_binary: Path) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="pyqmp-example-") as directory,
        make_target("qemu", str(qemu_binary)).start([os.path.join(directory, "qmp.sock")]) as vm,
    ):
        address = vm.sockets[0]
        pyqmp("schema", "gen", "python", "--from", address, "-o", directory, "--package",
              "qemu_api")  # fmt: skip
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "drive_qemu.py"), address],
            env=with_path(directory), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[:4] == [
            "status: prelaunch running: False",
            "balloon: 128 MiB",
            "refused: GenericError Parameter 'target' expects a size",
            "event: RESUME",
        ]
