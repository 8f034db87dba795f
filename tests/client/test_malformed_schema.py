"""A server whose `query-qmp-schema` answer is malformed: the client's argument checks and
`pyqmp schema gen python --from` refuse it with a precise error, never a traceback."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from typing import Any

import pytest
from fake_qmp_server import FakeConnection, FakeServer

from pyqmp.client import ArgumentError, ConnectError, IntrospectionError, QMPClient, Reconnect

DEADLINE = 20.0
MALFORMED = [
    {"name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": 1},
    {"name": "0", "meta-type": "object", "members": []},
]
WHY = "command 'query-status': expected a string 'ret-type', got 1"


async def answer_malformed(
    server: FakeServer, conn: FakeConnection, request: dict[str, Any]
) -> None:
    if request["execute"] == "query-qmp-schema":
        conn.reply(request, MALFORMED)
    else:
        conn.reply(request, {})


async def client_refuses() -> None:
    async with FakeServer(answer_malformed) as server:
        checked = QMPClient("checked", check_arguments=True)
        with pytest.raises(ConnectError) as refused:
            await checked.connect(server.path, timeout=DEADLINE)
        assert str(refused.value).endswith(f"reading the schema: {WHY}")
        assert checked.argument_check is None

        async with QMPClient("loader") as qmp:
            await qmp.connect(server.path, timeout=DEADLINE)
            with pytest.raises(IntrospectionError, match=f"^{WHY}$"):
                await qmp.load_schema(timeout=DEADLINE)
            assert qmp.argument_check is None
            assert await qmp.execute("query-status", {"anything": 1}) == {}


def test_the_client_refuses_a_malformed_schema() -> None:
    asyncio.run(client_refuses())


async def generator_refuses() -> tuple[int, str]:
    async with FakeServer(answer_malformed) as server:
        with tempfile.TemporaryDirectory() as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pyqmp", "schema", "gen", "python", "--from",
                server.path, "-o", out, "--package", "bound",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, stderr = await asyncio.wait_for(process.communicate(), 120)
            assert process.returncode is not None
            return process.returncode, stderr.decode()


def test_gen_from_refuses_a_malformed_schema() -> None:
    returncode, stderr = asyncio.run(generator_refuses())
    assert (returncode, stderr) == (1, f"pyqmp: {WHY}\n")


def schema_of(*commands: str) -> list[dict[str, Any]]:
    return [
        *({"name": name, "meta-type": "command", "arg-type": "0", "ret-type": "0"}
          for name in commands),
        {"name": "0", "meta-type": "object", "members": []},
    ]  # fmt: skip


async def reloaded_after_reconnect() -> None:
    commands = ["query-a"]

    async def handler(server: FakeServer, conn: FakeConnection, request: dict[str, Any]) -> None:
        if request["execute"] == "query-qmp-schema":
            conn.reply(request, schema_of(*commands))
        else:
            conn.reply(request, {})

    async with FakeServer(handler) as server:
        policy = Reconnect(initial_delay=0.01, max_delay=0.1)
        async with QMPClient("reloads", reconnect=policy, check_arguments=True) as qmp:
            await qmp.connect(server.path, timeout=DEADLINE)
            with pytest.raises(ArgumentError) as refused:
                await qmp.execute("query-b")
            assert refused.value.error_class == "CommandNotFound"
            assert refused.value.desc == "The command query-b has not been found"

            commands.append("query-b")  # the server is replaced by a newer one
            server.connections[-1].hang_up()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + DEADLINE
            while qmp.reconnects == 0 or "query-b" not in (
                qmp.argument_check.schema.commands if qmp.argument_check else {}
            ):
                assert loop.time() < deadline, "the schema was not read again"
                await asyncio.sleep(0.01)
            assert await qmp.execute("query-b") == {}


def test_the_schema_is_read_again_after_reconnecting() -> None:
    asyncio.run(reloaded_after_reconnect())
