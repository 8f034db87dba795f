"""The real `qemu.qmp` client library (QMPClient) driving a target: connect, negotiate, execute,
receive events through an EventListener, disconnect, reconnect, quit.

The target comes from the `target` fixture (qmp_targets.Target), parametrized by name so that
the same test runs against real QEMU now and against `pyqmp machine` once the lead adds "pyqmp" to
TARGET_NAMES: nothing here is specific to QEMU except what QEMU 7.2 answers.  Note that qemu.qmp
enables the `oob` capability whenever the greeting offers it, and ids every request itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from qemu.qmp import EventListener, ExecuteError, QMPClient
from qmp_sessions import MACHINE_COMMANDS
from qmp_targets import BALLOON_PATH, Target, TargetProcess, make_target

TARGET_NAMES = ["qemu", "pyqmp"]
TIMEOUT_SECONDS = 10.0
RAM_BYTES = 128 << 20

T = TypeVar("T")


@pytest.fixture(params=TARGET_NAMES)
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "qemu":
        return make_target("qemu", str(request.getfixturevalue("qemu_binary")))
    return make_target(request.param)


@contextmanager
def started(target: Target) -> Iterator[TargetProcess]:
    with (
        tempfile.TemporaryDirectory(prefix="pyqmp-qemu-qmp-") as directory,
        target.start([os.path.join(directory, "qmp.sock")]) as running,
    ):
        yield running


async def bounded(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, TIMEOUT_SECONDS)


async def connected_client(path: str, name: str = "pyqmp-interop") -> QMPClient:
    client = QMPClient(name)
    await bounded(client.connect(path))
    return client


def execute(
    client: QMPClient, command: str, arguments: dict[str, Any] | None = None
) -> Awaitable[Any]:
    return bounded(client.execute(command, arguments))


async def commands_and_events(path: str) -> None:
    client = await connected_client(path)
    try:
        assert client.greeting is not None
        assert "oob" in client.greeting.QMP.capabilities

        assert await execute(client, "query-status") == {
            "status": "prelaunch",
            "singlestep": False,
            "running": False,
        }
        version = await execute(client, "query-version")
        assert set(version) == {"qemu", "package"}
        assert set(version["qemu"]) == {"major", "minor", "micro"}
        names = {entry["name"] for entry in await execute(client, "query-commands")}
        assert names >= MACHINE_COMMANDS
        assert await execute(client, "query-balloon") == {"actual": RAM_BYTES}
        assert (
            await execute(
                client,
                "qom-set",
                {"path": BALLOON_PATH, "property": "guest-stats-polling-interval", "value": 2},
            )
            == {}
        )
        assert (
            await execute(
                client,
                "qom-get",
                {"path": BALLOON_PATH, "property": "guest-stats-polling-interval"},
            )
            == 2
        )
        assert (
            await execute(client, "human-monitor-command", {"command-line": "info status"})
            == "VM status: paused (prelaunch)\r\n"
        )

        with pytest.raises(ExecuteError) as raised:
            await execute(client, "balloon", {"value": "64M"})
        assert raised.value.error_class == "GenericError"
        assert str(raised.value) == "Invalid parameter type for 'value', expected: integer"
        with pytest.raises(ExecuteError) as raised:
            await execute(client, "no-such-command")
        assert raised.value.error_class == "CommandNotFound"

        listener = EventListener(("STOP", "RESUME"))
        with client.listen(listener):
            assert await execute(client, "cont") == {}
            resumed = await bounded(listener.get())
            assert resumed["event"] == "RESUME"
            timestamp = resumed["timestamp"]
            assert isinstance(timestamp, dict) and set(timestamp) == {"seconds", "microseconds"}
            assert (await execute(client, "query-status"))["status"] == "running"
            assert await execute(client, "stop") == {}
            stopped = await bounded(listener.get())
            assert stopped["event"] == "STOP"
            assert (await execute(client, "query-status"))["status"] == "paused"
            assert listener.empty()
    finally:
        await bounded(client.disconnect())


def test_commands_and_events(target: Target) -> None:
    with started(target) as running:
        asyncio.run(commands_and_events(running.sockets[0]))
        assert running.process.poll() is None, "disconnecting must not end the machine"


async def reconnect(path: str) -> None:
    # The same monitor serves one client after another.
    for attempt in range(3):
        client = await connected_client(path, f"pyqmp-interop-{attempt}")
        try:
            assert (await execute(client, "query-status"))["status"] == "prelaunch"
        finally:
            await bounded(client.disconnect())


def test_reconnect(target: Target) -> None:
    with started(target) as running:
        asyncio.run(reconnect(running.sockets[0]))


async def quit_machine(path: str) -> None:
    client = await connected_client(path)
    listener = EventListener(("SHUTDOWN",))
    with client.listen(listener):
        assert await execute(client, "quit") == {}
        shutdown = await bounded(listener.get())
    assert shutdown["event"] == "SHUTDOWN"
    assert shutdown["data"] == {"guest": False, "reason": "host-qmp-quit"}
    # The server hangs up after quit.  disconnect() re-raises that as EOFError if qemu.qmp's
    # reader saw the hang-up before disconnect() cancelled it, which is a race (about half the
    # runs against QEMU): either way is fine.
    with contextlib.suppress(EOFError):
        await bounded(client.disconnect())


def test_quit(target: Target) -> None:
    with started(target) as running:
        asyncio.run(quit_machine(running.sockets[0]))
        assert running.wait_exit() == 0
