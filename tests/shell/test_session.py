"""A shell session on a real client and a small scripted server: what is sent for a line
(QMP and HMP mode), how replies, error replies, refused lines, timeouts and events look, and
completion tables loaded from the server (or left empty where it refuses)."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from pyqmp.client import Event, QMPClient
from pyqmp.protocol import EventTimestamp
from pyqmp.shell.session import Answer, ShellSession, format_event, show_events

DEADLINE = 30.0
GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}}
# (command, arguments) -> the reply message (no id; None: no reply), or a list of events
# followed by it
Answerer = Callable[[str, Any], Any]


@asynccontextmanager
async def session_with(answer: Answerer, *, hmp: bool = False) -> AsyncIterator[ShellSession]:
    """A session connected to a server answering each request with ``answer``'s message
    (None: never answer)."""
    sent: list[tuple[str, Any]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(json.dumps(GREETING).encode() + b"\r\n")
        while line := await reader.readline():
            request = json.loads(line)
            name, arguments = request["execute"], request.get("arguments")
            message = {"return": {}} if name == "qmp_capabilities" else answer(name, arguments)
            if name != "qmp_capabilities":
                sent.append((name, arguments))
            if isinstance(message, list):  # events first, then the reply, in one write
                *events, message = message
                writer.write(b"".join(json.dumps(event).encode() + b"\r\n" for event in events))
            if message is not None:
                writer.write(json.dumps({**message, "id": request["id"]}).encode() + b"\r\n")

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "qmp.sock")
        server = await asyncio.start_unix_server(serve, path)
        try:
            async with QMPClient("test") as qmp:
                await qmp.connect(path, timeout=DEADLINE)
                session = ShellSession(qmp, hmp=hmp, timeout=DEADLINE)
                session.sent = sent  # type: ignore[attr-defined]
                yield session
        finally:
            server.close()


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coroutine, DEADLINE)

    asyncio.run(bounded())


def echo(name: str, arguments: Any) -> Any:
    if name == "fail":
        return {"error": {"class": "GenericError", "desc": "it failed"}}
    if name == "human-monitor-command":
        return {"return": f"you said: {arguments['command-line']}\r\n"}
    return {"return": {"name": name, "arguments": arguments}}


def test_a_qmp_line_is_sent_as_typed_and_its_reply_pretty_printed() -> None:
    async def scenario() -> None:
        async with session_with(echo) as session:
            answer = await session.run_line("balloon value=1073741824 a.b=x\n")
            assert answer == Answer(
                json.dumps(
                    {"name": "balloon", "arguments": {"value": 1073741824, "a": {"b": "x"}}},
                    indent=4,
                ),
                True,
            )
            assert (await session.run_line('{"execute": "stop"}')).ok
            assert session.sent == [  # type: ignore[attr-defined]
                ("balloon", {"value": 1073741824, "a": {"b": "x"}}),
                ("stop", None),
            ]

    run(scenario())


def test_error_replies_refused_lines_and_blank_lines() -> None:
    async def scenario() -> None:
        async with session_with(echo) as session:
            assert await session.run_line("fail") == Answer("GenericError: it failed", False)
            refused = await session.run_line("cmd oops")
            assert refused == Answer(
                "error: expected key=value after the command name, not 'oops'", False
            )
            assert await session.run_line("   ") == Answer(None, True)
            assert await session.run_line("# note") == Answer(None, True)
            assert session.sent == [("fail", None)]  # type: ignore[attr-defined]

    run(scenario())


def test_hmp_lines_go_through_human_monitor_command() -> None:
    async def scenario() -> None:
        async with session_with(echo, hmp=True) as session:
            answer = await session.run_line("info balloon\n")
            assert answer == Answer("you said: info balloon", True)
            assert session.sent == [  # type: ignore[attr-defined]
                ("human-monitor-command", {"command-line": "info balloon"})
            ]

    run(scenario())


def test_a_reply_that_never_comes_costs_one_timeout() -> None:
    async def scenario() -> None:
        def silent_for_stop(name: str, arguments: Any) -> Any:
            return None if name == "stop" else echo(name, arguments)

        async with session_with(silent_for_stop) as session:
            session.timeout = 0.2
            answer = await session.run_line("stop")
            assert not answer.ok and answer.text is not None
            assert answer.text.startswith("error: no reply to 'stop' within 0.2 s")
            assert (await session.run_line("cont")).ok  # the session goes on

    run(scenario())


def test_completion_tables_come_from_the_server() -> None:
    schema = [
        {"name": "qom-get", "meta-type": "command", "arg-type": "0", "ret-type": "any"},
        {"name": "0", "meta-type": "object", "members": [{"name": "path", "type": "str"}]},
    ]

    def introspecting(name: str, arguments: Any) -> Any:
        if name == "query-commands":
            return {"return": [{"name": "qom-get"}, {"name": "query-status"}]}
        if name == "query-qmp-schema":
            return {"return": schema}
        return {"error": {"class": "CommandNotFound", "desc": "no"}}

    async def scenario() -> None:
        async with session_with(introspecting) as session:
            await session.load_completion()
            assert [c.text for c in session.complete("q")] == ["qom-get", "query-status"]
            assert [c.text for c in session.complete("qom-get p")] == ["path="]
        async with session_with(introspecting, hmp=True) as session:
            await session.load_completion()  # `help` refused: nothing to offer, no failure
            assert session.complete("in") == []

    run(scenario())


def test_an_event_is_one_line() -> None:
    event = Event("BALLOON_CHANGE", {"actual": 1024}, EventTimestamp(0, 500000))
    text = format_event(event)
    assert text.startswith("event BALLOON_CHANGE at 19")
    assert text.endswith('.500: {"actual": 1024}')
    assert format_event(Event("STOP", {}, None)) == "event STOP"


def test_events_are_shown_and_a_flood_says_how_many_were_dropped() -> None:
    count = 5000
    timestamp = {"seconds": 1, "microseconds": 0}
    shown: list[str] = []

    def flood(name: str, arguments: Any) -> Any:
        events = [{"event": "TICK", "data": {"n": n}, "timestamp": timestamp} for n in range(count)]
        return [*events, {"return": {}}]

    async def scenario() -> None:
        async with session_with(flood) as session:
            watcher = asyncio.create_task(show_events(session.qmp, shown.append))
            await asyncio.sleep(0)  # the watcher subscribes
            assert (await session.run_line("flood")).ok
            while not shown or not shown[-1].endswith(f'{{"n": {count - 1}}}'):
                await asyncio.sleep(0.01)
            watcher.cancel()

    run(scenario())
    ticks = [text for text in shown if text.startswith("event TICK")]
    notes = [
        text for text in shown if text.endswith("events dropped: they came faster than shown)")
    ]
    assert len(ticks) + len(notes) == len(shown)
    dropped = sum(int(note[1:].split()[0]) for note in notes)
    assert len(ticks) + dropped == count  # every event shown or counted, none lost silently
