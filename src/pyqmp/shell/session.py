"""One shell session over a connected client: a typed line in, the text to show out.

It owns what a line does (QMP mode: the command it names; HMP mode: the line given to
``human-monitor-command``) and how answers look (a reply pretty-printed as JSON, an error
reply as ``CLASS: desc``, an event on one line).  Its one rule: a line never waits longer
than the session's timeout — a frozen server costs one timeout and the session goes on.
Only a lost connection ends it (:class:`~pyqmp.client.ConnectionLost` propagates).  It knows
nothing of terminals; :mod:`.terminal` and :mod:`.script` bring the input and output.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any, NamedTuple

from ..client import CommandTimeout, Event, ExecuteError, QMPClient
from .command_line import LineError, parse_line
from .completion import (
    EMPTY_QMP,
    Completion,
    HMPTable,
    QMPTable,
    complete_hmp,
    complete_qmp,
    hmp_table,
    qmp_table,
)

HMP_COMMAND = "human-monitor-command"


class Answer(NamedTuple):
    """What to show for a line (None: nothing) and whether the line did what it asked."""

    text: str | None
    ok: bool


def format_return(value: Any) -> str:
    """A command's return value, pretty-printed as JSON."""
    return json.dumps(value, indent=4, ensure_ascii=False)


def format_error(error: ExecuteError) -> str:
    return f"{error.error_class}: {error.desc}"


def format_event(event: Event) -> str:
    """``event NAME at TIME: DATA`` on one line (time and data when there are any)."""
    text = f"event {event.name}"
    if event.timestamp is not None:
        seconds, microseconds = event.timestamp
        moment = datetime.datetime.fromtimestamp(seconds + microseconds / 1e6)
        text += f" at {moment.isoformat(sep=' ', timespec='milliseconds')}"
    if event.data:
        text += f": {json.dumps(event.data, ensure_ascii=False)}"
    return text


async def show_events(qmp: QMPClient, show: Callable[[str], None]) -> None:
    """Show every event ``qmp`` receives, as it comes, until the connection ends (a lost
    connection raises ConnectionLost).  Events that came faster than they were shown are
    dropped by the client's bounded stream, oldest first; how many is said when it happens."""
    stream = qmp.events()
    reported = 0
    async for event in stream:
        if stream.dropped > reported:
            show(f"({stream.dropped - reported} events dropped: they came faster than shown)")
            reported = stream.dropped
        show(format_event(event))


class ShellSession:
    """Runs lines on ``qmp`` (connected), each bounded by ``timeout`` seconds."""

    def __init__(self, qmp: QMPClient, *, hmp: bool, timeout: float) -> None:
        self.qmp = qmp
        self.hmp = hmp
        self.timeout = timeout
        self.qmp_table: QMPTable = EMPTY_QMP
        self.hmp_table = HMPTable((), ())

    async def load_completion(self) -> None:
        """Ask the server what it offers, for completion; what it refuses stays empty."""
        if self.hmp:
            help_text = await self._quietly(HMP_COMMAND, {"command-line": "help"})
            info_text = await self._quietly(HMP_COMMAND, {"command-line": "help info"})
            self.hmp_table = hmp_table(
                help_text if isinstance(help_text, str) else "",
                info_text if isinstance(info_text, str) else "",
            )
            return
        commands = await self._quietly("query-commands", None)
        schema = await self._quietly("query-qmp-schema", None)
        self.qmp_table = qmp_table(
            commands if isinstance(commands, list) else [],
            schema if isinstance(schema, list) else None,
        )

    async def _quietly(self, name: str, arguments: dict[str, Any] | None) -> Any:
        try:
            return await self.qmp.execute(name, arguments, timeout=self.timeout)
        except (ExecuteError, CommandTimeout):
            return None

    def complete(self, before_cursor: str) -> list[Completion]:
        if self.hmp:
            return complete_hmp(self.hmp_table, before_cursor)
        return complete_qmp(self.qmp_table, before_cursor)

    async def run_line(self, line: str) -> Answer:
        """Run one typed line; raises ConnectionLost only."""
        arguments: dict[str, Any] | None
        if self.hmp:
            if not line.strip():
                return Answer(None, True)
            name, arguments = HMP_COMMAND, {"command-line": line.strip()}
        else:
            try:
                command = parse_line(line)
            except LineError as error:
                return Answer(f"error: {error}", False)
            if command is None:
                return Answer(None, True)
            name, arguments = command
        try:
            value = await self.qmp.execute(name, arguments, timeout=self.timeout)
        except ExecuteError as error:
            return Answer(format_error(error), False)
        except CommandTimeout:
            return Answer(
                f"error: no reply to {name!r} within {self.timeout:g} s "
                "(the server may be frozen; a late reply will be dropped)",
                False,
            )
        if self.hmp:
            text = str(value).rstrip("\r\n")
            return Answer(text or None, True)
        return Answer(format_return(value), True)
