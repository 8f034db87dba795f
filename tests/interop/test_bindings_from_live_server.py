"""`pyqmp schema gen python --from ADDRESS`: bindings generated from a live server's
introspection (QEMU 7.2's masked type names named from where they are used, and `pyqmp
machine`'s) pass `mypy --strict` with a user's code and drive that very server."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from qmp_targets import Target, make_target
from test_bindings_drive_servers import drive

DEADLINE = 20.0

USER_CODE = """
from pyqmp.client import QMPClient
import {package}


async def main(qmp: QMPClient) -> None:
    api = {package}.Client(qmp)
    status = await api.query_status(timeout=1)
    running: bool = status.running
    info = await api.query_balloon()
    print(info.actual + 1, running, status.status == "paused")
    await api.qom_set(path="/machine/peripheral/balloon0",
                      property="guest-stats-polling-interval", value=2)
    await api.balloon(value=1 << 30)
"""

MISUSE = """
from pyqmp.client import QMPClient
import {package}


async def main(qmp: QMPClient) -> None:
    api = {package}.Client(qmp)
    await api.balloon(valu=1)
    status = await api.query_status()
    status.runing
"""


def generate_from(address: str, directory: Path, package: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyqmp", "schema", "gen", "python", "--from", address,
         "-o", str(directory), "--package", package],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def mypy_strict(directory: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir",
         str(directory / ".mypy_cache"), *files],
        cwd=directory, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def bind_and_drive(target: Target, package: str, status_info: str, balloon_info: str) -> Any:
    with (
        tempfile.TemporaryDirectory(prefix="pyqmp-from-") as directory,
        target.start([str(Path(directory) / "qmp.sock")]) as running,
    ):
        out = Path(directory) / "out"
        done = generate_from(running.sockets[0], out, package)
        assert done.returncode == 0, done.stderr
        assert (out / package / "py.typed").exists()

        (out / "user_code.py").write_text(USER_CODE.format(package=package))
        checked = mypy_strict(out, package, "user_code.py")
        assert checked.returncode == 0, checked.stdout[-3000:]
        (out / "misuse.py").write_text(MISUSE.format(package=package))
        misuse = mypy_strict(out, "misuse.py")
        errors = [line for line in misuse.stdout.splitlines() if ": error:" in line]
        assert len(errors) == 2, misuse.stdout
        assert 'Unexpected keyword argument "valu" for "balloon"' in errors[0]
        assert 'has no attribute "runing"' in errors[1]

        sys.path.insert(0, str(out))
        try:
            api = importlib.import_module(package)
            asyncio.run(drive(api, running.sockets[0], status_info, balloon_info))
        finally:
            sys.path.remove(str(out))
        return api


def test_bindings_from_live_qemu_drive_it(qemu_binary: Path) -> None:
    target = make_target("qemu", str(qemu_binary))
    api = bind_and_drive(target, "live_qemu_api", "QueryStatusResult", "QueryBalloonResult")
    # QEMU masks type names: they are named from where they are used; the events' are not
    assert not hasattr(api, "StatusInfo") and not hasattr(api, "RunState")
    assert "prelaunch" in api.QueryStatusResultStatus.__args__
    assert "query-qmp-schema of " in (api.__doc__ or "")


def test_bindings_from_live_machine_drive_it() -> None:
    target = make_target("pyqmp")
    api = bind_and_drive(target, "live_machine_api", "QueryStatusResult", "QueryBalloonResult")
    # the machine masks type names as QEMU does
    assert {"query_balloon_stats", "balloon_stats_refresh"} <= set(dir(api.Client))
