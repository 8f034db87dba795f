"""Commands to a monitor: answered within a deadline, never more than a few unanswered."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any, cast

import pytest

from pyqmp.agent.calls import MonitorCalls, TooManyUnanswered, Unanswered
from pyqmp.client import QMPClient


class SilentClient:
    """A client whose replies come only when the test says so."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, asyncio.Future[Any]]] = []

    async def execute(
        self, name: str, arguments: Mapping[str, object] | None = None, *, timeout: Any = None
    ) -> Any:
        assert timeout is None  # the deadline is the agent's, the call stays outstanding
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((name, future))
        return await future

    async def wait_sent(self, count: int) -> asyncio.Future[Any]:
        async with asyncio.timeout(10):
            while len(self.sent) < count:
                await asyncio.sleep(0)
        return self.sent[count - 1][1]


def test_deadline_then_late_reply_then_bound() -> None:
    async def scenario() -> None:
        client = SilentClient()
        idle: list[bool] = []
        calls = MonitorCalls(cast(QMPClient, client), "vm x", 2, lambda: idle.append(True))
        with pytest.raises(
            Unanswered, match=re.escape("vm x: no reply to 'query-status' within 0.01 s")
        ):
            await calls.call("query-status", None, 0.01)
        assert calls.outstanding == 1
        with pytest.raises(Unanswered):
            await calls.call("stop", None, 0.01)
        with pytest.raises(TooManyUnanswered, match="'cont' not sent: 2 commands are still"):
            await calls.call("cont", None, 0.01)
        assert [name for name, _ in client.sent] == ["query-status", "stop"]
        for _, future in client.sent:
            future.set_result({})
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert calls.outstanding == 0 and idle == [True]
        answer = asyncio.create_task(calls.call("query-name", None, 10))
        (await client.wait_sent(3)).set_result({"name": "x"})
        assert await answer == {"name": "x"}
        # a late failure is nobody's to report, and is not left unretrieved
        pending = asyncio.create_task(calls.call("quit", None, 0.01))
        with pytest.raises(Unanswered):
            await pending
        (await client.wait_sent(4)).set_exception(ConnectionError("gone"))
        await asyncio.sleep(0)
        calls.cancel()

    asyncio.run(scenario())
