"""Local argument checks without generated code: a client that read the server's
`query-qmp-schema` refuses, before sending, what QEMU 7.2 and `pyqmp machine` would
refuse, with the very class and text the server answers; and nothing is sent."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from qmp_targets import TargetProcess

from pyqmp.client import ArgumentError, ExecuteError, QMPClient

DEADLINE = 20.0

REFUSED: list[tuple[str, dict[str, Any] | None]] = [
    ("balloon", None),
    ("balloon", {"value": "1G"}),
    ("balloon", {"value": 1.5}),
    ("balloon", {"value": True}),
    ("balloon", {"value": 1 << 30, "size": 1}),
    ("query-status", {"verbose": True}),
    ("qom-get", {"path": 7, "property": "type"}),
    ("qom-get", {"path": "/machine"}),
    ("human-monitor-command", {"command-line": "info status", "cpu-index": "0"}),
    ("query-everything", None),
    ("query-everything", {"a": 1}),
]

# Enums, arrays and nested objects: each server has its own commands taking them
REFUSED_BY = {
    "pyqmp": [
        ("x-guest-fault", {"mode": "telepathy"}),
        ("x-guest-fault", {"mode": 3}),
    ],
    "qemu": [
        ("query-cpu-model-expansion", {"type": "telepathic", "model": {"name": "max"}}),
        ("query-cpu-model-expansion", {"type": "full", "model": {"nam": "max"}}),
        ("query-cpu-model-expansion", {"type": "full", "model": {"name": 1}}),
        ("query-cpu-model-expansion", {"type": "full", "model": {"name": "max", "x": 1}}),
        ("query-cpu-model-expansion", {"model": {"name": "max"}, "type": "full", "y": 1}),
        ("query-cpu-model-expansion", {"type": "full", "model": []}),
        ("block-dirty-bitmap-merge", {"node": "n", "target": "t", "bitmaps": "b"}),
        ("query-command-line-options", {"option": None}),
    ],
}

ACCEPTED: list[tuple[str, dict[str, Any] | None]] = [
    ("query-status", None),
    ("query-status", {}),
    ("qom-get", {"path": "/machine/peripheral/balloon0", "property": "type"}),
    ("human-monitor-command", {"command-line": "info status"}),
]


async def server_answer(qmp: QMPClient, name: str, arguments: Any) -> tuple[str, str] | None:
    try:
        await qmp.execute(name, arguments)
    except ExecuteError as error:
        assert not isinstance(error, ArgumentError)
        return error.error_class, error.desc
    return None


async def compare(running: TargetProcess) -> None:
    async with (
        QMPClient("unchecked", timeout=DEADLINE) as unchecked,
        QMPClient("checked", timeout=DEADLINE, check_arguments=True) as checked,
    ):
        # (QEMU serves one client per monitor)
        await unchecked.connect(running.sockets[0], timeout=DEADLINE)
        await checked.connect(running.sockets[1], timeout=DEADLINE)
        assert checked.argument_check is not None
        assert "balloon" in checked.argument_check.schema.commands

        for name, arguments in REFUSED + REFUSED_BY[running.target.name]:
            expected = await server_answer(unchecked, name, arguments)
            assert expected is not None, (name, arguments)
            with pytest.raises(ArgumentError) as raised:
                await checked.execute(name, arguments)
            assert (raised.value.error_class, raised.value.desc) == expected, (name, arguments)
            assert raised.value.command == name
        for name, arguments in ACCEPTED:
            assert await server_answer(checked, name, arguments) is None, (name, arguments)

        # Nothing is sent: with the server frozen, a refused call still fails at once,
        # while one that is sent waits for its (timed-out) reply.
        os.kill(running.process.pid, signal.SIGSTOP)
        try:
            for name, arguments in REFUSED:
                with pytest.raises(ArgumentError):
                    await checked.execute(name, arguments, timeout=DEADLINE)
            with pytest.raises(TimeoutError):
                await checked.execute("query-status", timeout=0.2)
        finally:
            os.kill(running.process.pid, signal.SIGCONT)
        assert (await checked.execute("query-status"))["running"] is False


def test_local_argument_errors_are_the_servers(running3: TargetProcess) -> None:
    asyncio.run(compare(running3))


async def load_then_check(path: str) -> None:
    async with QMPClient("load") as qmp:
        await qmp.connect(path, timeout=DEADLINE)
        with pytest.raises(ExecuteError) as raised:
            await qmp.execute("balloon", {"valu": 1}, timeout=DEADLINE)
        assert not isinstance(raised.value, ArgumentError)
        schema = await qmp.load_schema(timeout=DEADLINE)
        assert "query-status" in schema.commands
        with pytest.raises(ArgumentError) as local:
            await qmp.execute("balloon", {"valu": 1})
        assert local.value.desc == raised.value.desc


def test_load_schema_turns_the_checks_on(running: TargetProcess) -> None:
    asyncio.run(load_then_check(running.sockets[0]))
