"""Scripted QMP sessions: one script, run against any QMP server process, comparable across them.

A `Session` is data: machine options and a list of `Step`s, each one a thing to send on one
connection (raw bytes, so that malformed input can be expressed, or a structured `Request`) and
what to collect afterwards (how many replies and events to wait for, a short settle time for
stray events, whether the server must close the connection).  `run_session` plays a session
against a target and records a transcript of plain JSON data (exact received lines included); it
never raises because the server answered differently than expected — a missing reply is recorded
as a timeout — so that two transcripts can always be compared.  Each step carries a `Compare`:
how its messages are normalized before transcripts of different implementations are compared
(qmp_compare.py).  Targets (how to start QEMU or `pyqmp machine`) are in qmp_targets.py.

The sessions themselves (`SESSIONS`) are verified against real QEMU by test_qemu_sessions.py and
recorded in qemu_7.2_transcripts.json by record_qemu_transcripts.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qmp_compare import EXACT, GREETING, JSON, Compare, Transcript
from qmp_targets import (
    BALLOON_ID,
    BALLOON_PATH,
    STARTUP_TIMEOUT_SECONDS,
    MachineOptions,
    Target,
    TargetProcess,
)

STEP_TIMEOUT_SECONDS = 10.0
# Time to keep listening after a step's expected messages arrived, so that a stray or late event
# shows up in the step that caused it rather than in the next one.
DEFAULT_SETTLE_SECONDS = 0.05
EVENT_SETTLE_SECONDS = 0.2


class SessionError(Exception):
    """A session asked for something impossible (a connection not open, or opened twice)."""


# ---------------------------------------------------------------------------------------------
# Sessions as data


class _NoId:
    def __repr__(self) -> str:
        return "NO_ID"


NO_ID: Any = _NoId()  # a request without "id" (None would send "id": null)


@dataclass(frozen=True)
class Request:
    """A well-formed QMP request; `encode` gives the exact bytes sent."""

    execute: str
    arguments: Mapping[str, JSON] | None = None
    id: JSON = NO_ID
    oob: bool = False

    def encode(self) -> bytes:
        message: dict[str, JSON] = {"exec-oob" if self.oob else "execute": self.execute}
        if self.arguments is not None:
            message["arguments"] = dict(self.arguments)
        if self.id is not NO_ID:
            message["id"] = self.id
        return json.dumps(message).encode() + b"\n"


@dataclass(frozen=True)
class Connect:
    """Open the step's connection; the greeting is its one reply."""


@dataclass(frozen=True)
class Step:
    """Send something on one connection, then collect what arrives.

    Waits until `replies` non-event messages and `events` events arrived (bounded by
    `timeout`), then `settle` seconds more; with `closes`, until the server closes too.
    """

    name: str
    send: bytes | Request | Connect | None  # None: send nothing, only collect
    connection: int = 0
    replies: int = 1
    events: int = 0
    closes: bool = False
    settle: float = DEFAULT_SETTLE_SECONDS
    timeout: float = STEP_TIMEOUT_SECONDS
    compare: Compare = EXACT


@dataclass(frozen=True)
class Session:
    name: str
    doc: str
    steps: tuple[Step, ...]
    machine: MachineOptions = field(default_factory=MachineOptions)
    connections: int = 1  # QMP monitors (one socket each) the target is started with
    exits: bool = False  # the session ends the server process (quit)

    def __post_init__(self) -> None:
        names = [step.name for step in self.steps]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"session {self.name}: duplicate step names {sorted(duplicates)}")
        for step in self.steps:
            if not 0 <= step.connection < self.connections:
                raise ValueError(
                    f"session {self.name}, step {step.name}: no connection {step.connection}"
                )


def connect(name: str = "greeting", connection: int = 0) -> Step:
    return Step(name, Connect(), connection=connection, compare=GREETING)


def command(
    name: str,
    execute: str,
    arguments: Mapping[str, JSON] | None = None,
    *,
    id: JSON = NO_ID,
    connection: int = 0,
    events: int = 0,
    closes: bool = False,
    compare: Compare = EXACT,
    oob: bool = False,
) -> Step:
    """A structured request expecting one reply (and `events` events)."""
    return Step(
        name,
        Request(execute, arguments, id, oob),
        connection=connection,
        events=events,
        closes=closes,
        settle=EVENT_SETTLE_SECONDS if events or closes else DEFAULT_SETTLE_SECONDS,
        compare=compare,
    )


def raw(
    name: str,
    data: bytes,
    *,
    replies: int = 1,
    connection: int = 0,
    settle: float = DEFAULT_SETTLE_SECONDS,
    compare: Compare = EXACT,
) -> Step:
    """Exact bytes on the wire, for what a structured request can't express."""
    return Step(name, data, connection=connection, replies=replies, settle=settle, compare=compare)


def listen(name: str, connection: int, *, events: int = 0, closes: bool = False) -> Step:
    """Send nothing; collect `events` events (asserting that nothing else arrives)."""
    return Step(
        name,
        None,
        connection=connection,
        replies=0,
        events=events,
        closes=closes,
        settle=EVENT_SETTLE_SECONDS,
    )


def hmp(name: str, command_line: str, *, events: int = 0, compare: Compare = EXACT) -> Step:
    return command(
        name,
        "human-monitor-command",
        {"command-line": command_line},
        events=events,
        compare=compare,
    )


def negotiate(name: str = "negotiate", connection: int = 0) -> Step:
    return command(name, "qmp_capabilities", connection=connection)


# ---------------------------------------------------------------------------------------------
# Running a session


@dataclass
class _Connection:
    sock: socket.socket
    buffer: bytes = b""
    closed: str | None = None  # "eof" or "reset" once the server hung up


def _read_step(conn: _Connection, step: Step) -> dict[str, Any]:
    """Collect messages for one step: raw lines (exact bytes) and parsed messages."""
    lines: list[bytes] = []
    replies = events = 0
    timed_out = False
    deadline = time.monotonic() + step.timeout
    settle_deadline: float | None = None

    def wanted() -> bool:
        if replies < step.replies or events < step.events:
            return True
        return step.closes and conn.closed is None

    while True:
        while b"\n" in conn.buffer:
            line, _, conn.buffer = conn.buffer.partition(b"\n")
            lines.append(line + b"\n")
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict) and "event" in message:
                events += 1
            else:
                replies += 1
        now = time.monotonic()
        if settle_deadline is None and not wanted():
            settle_deadline = now + step.settle
        if settle_deadline is not None:
            if now >= settle_deadline or conn.closed is not None:
                break
            wait = settle_deadline - now
        else:
            if now >= deadline or conn.closed is not None:
                timed_out = wanted()
                break
            wait = deadline - now
        ready, _, _ = select.select([conn.sock], [], [], wait)
        if not ready:
            continue
        try:
            chunk = conn.sock.recv(1 << 20)
        except ConnectionResetError:
            # QEMU exits with unread input (e.g. the newline after `quit`): the kernel then
            # reports a reset instead of an end of file.
            conn.closed = "reset"
            continue
        if not chunk:
            conn.closed = "eof"
        conn.buffer += chunk
    if conn.buffer and conn.closed is not None:
        lines.append(conn.buffer)  # a partial last line before the close
        conn.buffer = b""
    return {
        "received": [line.decode("utf-8", "backslashreplace") for line in lines],
        "messages": [_parse_line(line) for line in lines],
        "closed": conn.closed,
        "timed_out": timed_out,
    }


def _parse_line(line: bytes) -> JSON:
    try:
        return json.loads(line)
    except ValueError:
        return {"<unparsable>": line.decode("utf-8", "backslashreplace")}


def _describe_sent(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "backslashreplace")


def run_session(
    target: Target, session: Session, startup_timeout: float = STARTUP_TIMEOUT_SECONDS
) -> Transcript:
    """Play `session` against a fresh `target` process and return its transcript."""
    with tempfile.TemporaryDirectory(prefix="pyqmp-session-") as directory:
        sockets = [
            os.path.join(directory, f"qmp{index}.sock") for index in range(session.connections)
        ]
        with target.start(sockets, session.machine, startup_timeout) as running:
            connections: dict[int, _Connection] = {}
            records = []
            try:
                for step in session.steps:
                    records.append(_run_step(running, connections, step))
                exit_status = running.wait_exit() if session.exits else None
            finally:
                for conn in connections.values():
                    conn.sock.close()
            return {
                "session": session.name,
                "target": target.name,
                # The private directory's name varies from run to run.
                "argv": [arg.replace(directory, "<dir>") for arg in running.argv],
                "steps": records,
                "exit_status": exit_status,
            }


def _run_step(
    running: TargetProcess, connections: dict[int, _Connection], step: Step
) -> dict[str, Any]:
    sent: bytes | None = None
    if isinstance(step.send, Connect):
        if step.connection in connections:
            raise SessionError(f"step {step.name}: connection {step.connection} is already open")
        connections[step.connection] = _Connection(running.connect(step.connection))
    else:
        conn = connections.get(step.connection)
        if conn is None:
            raise SessionError(f"step {step.name}: connection {step.connection} is not open")
        if step.send is not None:
            sent = step.send.encode() if isinstance(step.send, Request) else step.send
            with contextlib.suppress(OSError):  # a closed peer shows up when reading
                conn.sock.sendall(sent)
    record = {"step": step.name, "connection": step.connection, "sent": _describe_sent(sent)}
    record.update(_read_step(connections[step.connection], step))
    return record


# ---------------------------------------------------------------------------------------------
# The sessions


# Commands pyqmp machine implements; query-commands is compared on these only.
MACHINE_COMMANDS = frozenset(
    {
        "qmp_capabilities",
        "query-version",
        "query-commands",
        "query-qmp-schema",
        "query-status",
        "stop",
        "cont",
        "system_reset",
        "system_powerdown",
        "quit",
        "balloon",
        "query-balloon",
        "qom-list",
        "qom-get",
        "qom-set",
        "query-name",
        "query-uuid",
        "human-monitor-command",
    }
)
# Properties of the balloon device both implementations have (QEMU's has ~60, mostly PCI).
BALLOON_PROPERTIES = frozenset({"type", "guest-stats-polling-interval", "guest-stats"})
# Children of /machine/peripheral both implementations have.
PERIPHERAL_CHILDREN = frozenset({"type", BALLOON_ID})

TEST_NAME = "pyqmp-guest"
TEST_UUID = "12345678-9abc-def0-1234-56789abcdef0"

VERSION_SHAPE = Compare(type_only=("return",))
ANY_DESC = Compare(exact_desc=False)
# QEMU's HMP `info version` is "<version><package>\r\n": compared only as a string.
ANY_STRING = Compare(type_only=("return",))


def _qom(name: str, execute: str, path: str = BALLOON_PATH, **arguments: JSON) -> Step:
    return command(name, execute, {"path": path, **arguments})


def _poll_interval(name: str, value: JSON, path: str = BALLOON_PATH) -> Step:
    return command(
        name, "qom-set", {"path": path, "property": "guest-stats-polling-interval", "value": value}
    )


SESSIONS: tuple[Session, ...] = (
    Session(
        "greeting",
        "Greeting, capabilities negotiation, version and the command list.",
        (
            connect(),
            command("command-before-negotiation", "query-status", id=1),
            command("bad-capability", "qmp_capabilities", {"enable": ["bogus"]}, compare=ANY_DESC),
            command("negotiate", "qmp_capabilities", id="neg"),
            command("negotiate-again", "qmp_capabilities"),
            command("query-version", "query-version", compare=VERSION_SHAPE),
            command(
                "query-commands",
                "query-commands",
                compare=Compare(only_names=("return", MACHINE_COMMANDS)),
            ),
        ),
    ),
    Session(
        "run-state",
        "query-status through prelaunch, running and paused; STOP/RESUME events.",
        (
            connect(),
            negotiate(),
            command("status-prelaunch", "query-status"),
            command("stop-in-prelaunch", "stop"),
            command("status-still-prelaunch", "query-status"),
            command("cont", "cont", events=1),
            command("status-running", "query-status"),
            command("cont-when-running", "cont"),
            command("stop", "stop", events=1),
            command("status-paused", "query-status"),
            command("stop-when-paused", "stop"),
            command("cont-again", "cont", events=1),
            command("stop-again", "stop", events=1),
        ),
    ),
    Session(
        "identity-default",
        "query-name and query-uuid of a machine started without them.",
        (
            connect(),
            negotiate(),
            command("query-name", "query-name"),
            command("query-uuid", "query-uuid"),
            hmp("hmp-info-name", "info name"),
            hmp("hmp-info-uuid", "info uuid"),
        ),
    ),
    Session(
        "identity-set",
        "query-name and query-uuid of a machine started with a name and UUID.",
        (
            connect(),
            negotiate(),
            command("query-name", "query-name"),
            command("query-uuid", "query-uuid"),
            hmp("hmp-info-name", "info name"),
            hmp("hmp-info-uuid", "info uuid"),
        ),
        machine=MachineOptions(name=TEST_NAME, uuid=TEST_UUID),
    ),
    Session(
        "balloon",
        "The balloon before any guest driver: host state only, no BALLOON_CHANGE.",
        (
            connect(),
            negotiate(),
            command("query-balloon", "query-balloon"),
            command("balloon-above-ram", "balloon", {"value": 1 << 30}),
            command("balloon-64M", "balloon", {"value": 64 << 20}),
            listen("no-balloon-change", 0),
            command("query-balloon-unchanged", "query-balloon"),
            command("balloon-zero", "balloon", {"value": 0}),
            command("balloon-negative", "balloon", {"value": -5}),
            hmp("hmp-info-balloon", "info balloon"),
            hmp("hmp-balloon-100", "balloon 100"),
            hmp("hmp-info-balloon-unchanged", "info balloon"),
        ),
    ),
    Session(
        "no-balloon",
        "A machine without a balloon device.",
        (
            connect(),
            negotiate(),
            command("query-balloon", "query-balloon"),
            command("balloon", "balloon", {"value": 64 << 20}),
            hmp("hmp-info-balloon", "info balloon"),
            command(
                "qom-list-peripheral",
                "qom-list",
                {"path": "/machine/peripheral"},
                compare=Compare(only_names=("return", PERIPHERAL_CHILDREN)),
            ),
        ),
        machine=MachineOptions(balloon=False),
    ),
    Session(
        "balloon-qom",
        "The balloon device's QOM properties: stats polling and guest-stats.",
        (
            connect(),
            negotiate(),
            command(
                "qom-list-peripheral",
                "qom-list",
                {"path": "/machine/peripheral"},
                compare=Compare(only_names=("return", PERIPHERAL_CHILDREN)),
            ),
            command(
                "qom-list-balloon",
                "qom-list",
                {"path": BALLOON_PATH},
                compare=Compare(only_names=("return", BALLOON_PROPERTIES)),
            ),
            _qom("qom-get-type", "qom-get", property="type"),
            _qom("qom-get-interval", "qom-get", property="guest-stats-polling-interval"),
            _qom("qom-get-stats", "qom-get", property="guest-stats"),
            _poll_interval("qom-set-interval", 2),
            _qom("qom-get-interval-set", "qom-get", property="guest-stats-polling-interval"),
            _qom(
                "qom-get-interval-backend",
                "qom-get",
                f"{BALLOON_PATH}/virtio-backend",
                property="guest-stats-polling-interval",
            ),
            _qom("qom-get-partial-path", "qom-get", BALLOON_ID, property="type"),
            _qom("qom-get-stats-after-set", "qom-get", property="guest-stats"),
            _poll_interval("qom-set-interval-negative", -1),
            _poll_interval("qom-set-interval-string", "2"),
            command(
                "qom-set-stats",
                "qom-set",
                {"path": BALLOON_PATH, "property": "guest-stats", "value": 5},
            ),
            _poll_interval("qom-set-interval-zero", 0),
            _qom("qom-get-interval-zero", "qom-get", property="guest-stats-polling-interval"),
            _qom("qom-get-no-property", "qom-get", property="no-such-property"),
            _qom(
                "qom-get-no-path", "qom-get", "/machine/peripheral/no-such-device", property="type"
            ),
            _qom("qom-list-no-path", "qom-list", "/no-such-path"),
        ),
    ),
    Session(
        "hmp",
        "human-monitor-command: info, stop/cont (events), balloon, unknown commands.",
        (
            connect(),
            negotiate(),
            hmp("info-status-prelaunch", "info status"),
            hmp("info-balloon", "info balloon"),
            hmp("info-version", "info version", compare=ANY_STRING),
            hmp("info-name", "info name"),
            hmp("cont", "cont", events=1),
            hmp("info-status-running", "info status"),
            hmp("stop", "stop", events=1),
            hmp("info-status-paused", "info status"),
            hmp("balloon-100", "balloon 100"),
            hmp("balloon-no-argument", "balloon"),
            hmp("unknown-command", "no-such-command"),
            hmp("unknown-info", "info no-such-thing"),
            command("missing-command-line", "human-monitor-command", {}),
        ),
    ),
    Session(
        "argument-errors",
        "Command and argument errors: class and desc of each.",
        (
            connect(),
            negotiate(),
            command("unknown-command", "no-such-command"),
            command("unknown-command-with-id", "no-such-command", id=5),
            command("unknown-argument", "query-status", {"bogus": 1}),
            command("unknown-argument-balloon", "balloon", {"value": 1 << 30, "bogus": 2}),
            command("wrong-type", "balloon", {"value": "64M"}),
            command("wrong-type-float", "balloon", {"value": 1.5}),
            command("missing-argument", "balloon"),
            command("missing-argument-with-id", "balloon", id=8),
            command("missing-argument-qom-get", "qom-get", {"path": BALLOON_PATH}),
            command("empty-arguments", "query-status", {}),
        ),
    ),
    Session(
        "framing",
        "Malformed and unusual input on the wire, and how ids are echoed.",
        (
            connect(),
            negotiate(),
            raw("not-an-object", b"[]\n"),
            raw("string", b'"query-status"\n'),
            raw("no-execute", b"{}\n"),
            raw("execute-not-string", b'{"execute": 1}\n'),
            raw("unexpected-member", b'{"execute": "query-status", "bogus": 1}\n'),
            raw("unexpected-member-with-id", b'{"execute": "query-status", "bogus": 1, "id": 6}\n'),
            raw("arguments-not-object", b'{"execute": "query-status", "arguments": []}\n'),
            raw("arguments-null", b'{"execute": "query-status", "arguments": null}\n'),
            raw("exec-oob-not-negotiated", b'{"exec-oob": "query-status"}\n'),
            raw("id-structured", b'{"execute": "query-status", "id": {"a": [1, "x"]}}\n'),
            raw("id-null", b'{"execute": "query-status", "id": null}\n'),
            raw("parse-error", b'{"execute"]\n', compare=ANY_DESC),
            raw(
                "duplicate-key",
                b'{"execute": "query-status", "execute": "stop"}\n',
                compare=ANY_DESC,
            ),
            raw("invalid-utf8", b"\xff\n", compare=ANY_DESC),
            raw("recovers-after-errors", b'{"execute": "query-status", "id": "ok"}\n'),
            raw(
                "two-on-one-line",
                b'{"execute": "query-status", "id": 1}{"execute": "query-status", "id": 2}\n',
                replies=2,
            ),
            raw("empty-line", b"\n", replies=0),
            raw("split-first-half", b'{"execute": "query-st', replies=0),
            raw("split-second-half", b'atus", "id": "split"}\n'),
            raw("no-newline", b'{"execute": "query-status", "id": "no-newline"}'),
            raw("whitespace-between", b' \t\r\n{ "execute" :\r\n "query-status" }\n'),
        ),
    ),
    Session(
        "oob",
        "Out-of-band capability: negotiated, then exec-oob of a command without it.",
        (
            connect(),
            command("negotiate-oob", "qmp_capabilities", {"enable": ["oob"]}),
            command("exec-oob-not-allowed", "query-status", id="o1", oob=True),
            command("exec-oob-without-id", "query-status", oob=True),
            command("in-band", "query-status", id="i1"),
        ),
    ),
    Session(
        "reset-powerdown",
        "system_reset and system_powerdown (never while the guest runs: "
        "QEMU's firmware then resets the machine by itself).",
        (
            connect(),
            negotiate(),
            command("reset-prelaunch", "system_reset", events=1),
            command("status-after-reset", "query-status"),
            command("cont", "cont", events=1),
            command("stop", "stop", events=1),
            command("reset-paused", "system_reset", events=1),
            command("status-after-paused-reset", "query-status"),
            command("powerdown", "system_powerdown", events=1),
            command("status-after-powerdown", "query-status"),
            hmp("hmp-system-reset", "system_reset", events=1),
            hmp("hmp-system-powerdown", "system_powerdown", events=1),
        ),
    ),
    Session(
        "quit",
        "quit: SHUTDOWN event, the reply, then the connection closes and the process "
        "exits with status 0.",
        (
            connect(),
            negotiate(),
            command("quit", "quit", id="q", events=1, closes=True),
        ),
        exits=True,
    ),
    Session(
        "two-monitors",
        "Events reach every negotiated monitor, and only negotiated ones.",
        (
            connect("greeting-0", 0),
            connect("greeting-1", 1),
            connect("greeting-2", 2),
            negotiate("negotiate-0", 0),
            negotiate("negotiate-1", 1),
            command("cont-on-0", "cont", connection=0, events=1),
            listen("resume-on-1", 1, events=1),
            listen("nothing-on-unnegotiated-2", 2),
            command("stop-on-1", "stop", connection=1, events=1),
            listen("stop-on-0", 0, events=1),
            command("status-on-0", "query-status", connection=0),
            negotiate("negotiate-2", 2),
            command("quit-on-2", "quit", connection=2, events=1, closes=True),
            listen("shutdown-on-0", 0, events=1, closes=True),
            listen("shutdown-on-1", 1, events=1, closes=True),
        ),
        connections=3,
        exits=True,
    ),
)

SESSIONS_BY_NAME: dict[str, Session] = {session.name: session for session in SESSIONS}


def run_sessions(target: Target, sessions: Sequence[Session] = SESSIONS) -> list[Transcript]:
    return [run_session(target, session) for session in sessions]


REFERENCE_TRANSCRIPTS = Path(__file__).resolve().parent / "qemu_7.2_transcripts.json"


def load_reference_transcripts(path: Path = REFERENCE_TRANSCRIPTS) -> dict[str, Transcript]:
    """Session name → QEMU's recorded transcript (written by record_qemu_transcripts.py)."""
    data = json.loads(path.read_text())
    return dict(data["sessions"])
