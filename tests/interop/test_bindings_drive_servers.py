"""Typed bindings generated from QEMU 7.2's whole schema drive the real QEMU 7.2 binary and
`pyqmp machine`; bindings from an older copy of the schema still drive QEMU and show the
caller what they do not know; the machine's own generated bindings drive the machine."""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

import msgspec
import pytest
from qmp_targets import BALLOON_PATH, TargetProcess, make_target

from pyqmp.client import ExecuteError, QMPClient
from pyqmp.codegen.runtime import unknown_members
from pyqmp.machine import machine_qapi

DEADLINE = 20.0


async def drive(
    api_module: Any, path: str, status_info: str = "StatusInfo", balloon_info: str = "BalloonInfo"
) -> None:
    """Drive the server at ``path`` with ``api_module``'s Client; the result types are named
    ``status_info`` and ``balloon_info`` there (bindings from a live QEMU name them apart)."""
    async with QMPClient("bindings", timeout=DEADLINE) as qmp:
        await qmp.connect(path, timeout=DEADLINE)
        api = api_module.Client(qmp)
        status = await api.query_status()
        assert isinstance(status, getattr(api_module, status_info))
        assert (status.status, status.running) == ("prelaunch", False)

        with qmp.events("RESUME", "STOP") as stream:
            await api.cont()
            resumed = api.decode_event(await stream.get(timeout=DEADLINE))
            assert isinstance(resumed, api_module.ResumeEvent)
            assert (await api.query_status()).status == "running"
            stopping = asyncio.ensure_future(api.wait_event(api_module.StopEvent, timeout=DEADLINE))
            await asyncio.sleep(0)
            await api.stop()
            assert isinstance(await stopping, api_module.StopEvent)
        assert (await api.query_status()).status == "paused"

        balloon = await api.query_balloon()
        assert isinstance(balloon, getattr(api_module, balloon_info))
        assert balloon.actual == 128 << 20
        await api.qom_set(path=BALLOON_PATH, property="guest-stats-polling-interval", value=2)
        assert await api.qom_get(path=BALLOON_PATH, property="guest-stats-polling-interval") == 2

        with pytest.raises(ExecuteError) as raised:
            await api.balloon(value=0)
        assert raised.value.error_class == "GenericError"
        assert raised.value.desc == "Parameter 'target' expects a size"


def test_bindings_from_qemus_schema_drive_the_server(
    qemu_bindings: Any, running: TargetProcess
) -> None:
    asyncio.run(drive(qemu_bindings, running.sockets[0]))


async def drive_with_older_bindings(api_module: Any, path: str) -> None:
    async with QMPClient("older", timeout=DEADLINE) as qmp:
        await qmp.connect(path, timeout=DEADLINE)
        api = api_module.Client(qmp)
        status = await api.query_status()
        # an enum value these bindings do not know arrives as its string...
        assert status.status == "prelaunch"
        assert "prelaunch" not in api_module.RunState.__args__
        # ...and a member they do not know is kept, not fatal
        assert isinstance(status, api_module.StatusInfo)
        assert not hasattr(status, "singlestep")
        assert unknown_members(status) == {"singlestep": False}
        assert status.running is False
        # what they do know still works as usual
        assert (await api.query_balloon()).actual == 128 << 20


def test_older_bindings_drive_a_newer_server(
    older_qemu_bindings: Any, running: TargetProcess
) -> None:
    asyncio.run(drive_with_older_bindings(older_qemu_bindings, running.sockets[0]))


async def drive_machine(path: str) -> None:
    async with QMPClient("machine", timeout=DEADLINE) as qmp:
        await qmp.connect(path, timeout=DEADLINE)
        api = machine_qapi.Client(qmp)
        stats = await api.query_balloon_stats()
        assert isinstance(stats, machine_qapi.BalloonStatsInfo)
        assert stats.request_outstanding is False and stats.stats.stat_free_memory is msgspec.UNSET
        await api.balloon_stats_refresh()
        schema = await api.query_qmp_schema()
        names = {
            entry.name for entry in schema if isinstance(entry, machine_qapi.SchemaInfo_command)
        }
        assert {"query-balloon-stats", "balloon-stats-refresh"} <= names


def test_the_machines_own_bindings_drive_it() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="pyqmp-bindings-") as directory,
        make_target("pyqmp").start([os.path.join(directory, "qmp.sock")]) as running,
    ):
        asyncio.run(drive_machine(running.sockets[0]))
