"""Commands to one monitor, each answered within a deadline, with a bound on the unanswered.

The agent's deadline says when to stop *waiting*, not when to forget a command: a command
whose deadline passed stays outstanding until its reply comes (or the connection goes),
because the server will still run it and answer it.  Counting them is what keeps a frozen
monitor from costing the agent memory: at most ``max_unanswered`` commands are ever on
their way to one monitor, and past that a call fails at once with
:class:`TooManyUnanswered` rather than writing more into a socket nobody reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from ..client import QMPClient
from .errors import AgentError


class MonitorNotAnswering(AgentError):
    """The monitor did not answer in time; the message names the command and deadline."""


class Unanswered(MonitorNotAnswering):
    """No reply within the deadline (the command stays outstanding)."""

    def __init__(self, where: str, command: str, deadline: float) -> None:
        super().__init__(f"{where}: no reply to '{command}' within {deadline:g} s")
        self.command = command
        self.deadline = deadline


class TooManyUnanswered(MonitorNotAnswering):
    """Too many commands are already waiting for this monitor; nothing was sent."""

    def __init__(self, where: str, command: str, outstanding: int) -> None:
        super().__init__(
            f"{where}: '{command}' not sent: {outstanding} commands are still unanswered"
        )
        self.command = command


class MonitorCalls:
    """The commands on their way to one connected monitor."""

    def __init__(
        self,
        client: QMPClient,
        where: str,
        max_unanswered: int,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.where = where
        self.max_unanswered = max_unanswered
        self._on_idle = on_idle
        self._outstanding: set[asyncio.Task[Any]] = set()

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    async def call(
        self, command: str, arguments: Mapping[str, object] | None, deadline: float
    ) -> Any:
        """The command's return value; raises what the client raises for an error reply
        or a lost connection, :class:`Unanswered` after ``deadline`` seconds and
        :class:`TooManyUnanswered` when the bound is reached."""
        if len(self._outstanding) >= self.max_unanswered:
            raise TooManyUnanswered(self.where, command, len(self._outstanding))
        task = asyncio.get_running_loop().create_task(
            self.client.execute(command, arguments, timeout=None)
        )
        self._outstanding.add(task)
        task.add_done_callback(self._finished)
        done, _ = await asyncio.wait((task,), timeout=deadline)
        if not done:
            raise Unanswered(self.where, command, deadline)
        return task.result()

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._outstanding.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here: a late failure is nobody's to report
        if not self._outstanding and self._on_idle is not None:
            self._on_idle()

    def cancel(self) -> None:
        """The connection is closing: stop waiting for every reply."""
        for task in list(self._outstanding):
            task.cancel()
