"""The scripted sessions of qmp_sessions.py, run against real QEMU 7.2 and checked step by step.

This verifies the sessions (they ask what they mean to ask and collect everything that comes
back) and documents QEMU's behaviour: `EXPECTED` is what each step's normalized transcript must be
— error classes and descs, event names and data, reply shapes — exactly as QEMU answers.  The raw
wire is checked too (CRLF line ends, event timestamps).  The `target` fixture is parametrized so
that the same expectations can be run against `pyqmp machine`; QEMU-only facts (its version) are
separate tests.  qemu_7.2_transcripts.json holds QEMU's full recorded transcripts
(record_qemu_transcripts.py); it must normalize to `EXPECTED` as well.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from qmp_compare import CLOSED_MARK, Transcript, diff_normalized, normalize_transcript
from qmp_sessions import (
    NO_ID,
    REFERENCE_TRANSCRIPTS,
    SESSIONS,
    SESSIONS_BY_NAME,
    TEST_NAME,
    TEST_UUID,
    Session,
    load_reference_transcripts,
    run_session,
)
from qmp_targets import Target, make_target

TARGET_NAMES = ["qemu", "pyqmp"]

# ---------------------------------------------------------------------------------------------
# How normalized messages look


def ok(id: Any = NO_ID) -> dict[str, Any]:
    return with_id({"return": {}}, id)


def returns(value: Any, id: Any = NO_ID) -> dict[str, Any]:
    return with_id({"return": value}, id)


def error(error_class: str, desc: str, id: Any = NO_ID) -> dict[str, Any]:
    return with_id({"error": {"class": error_class, "desc": desc}}, id)


def with_id(message: dict[str, Any], id: Any) -> dict[str, Any]:
    return message if id is NO_ID else {**message, "id": id}


def status(state: str, id: Any = NO_ID) -> dict[str, Any]:
    return returns({"status": state, "singlestep": False, "running": state == "running"}, id)


def event(name: str, **data: Any) -> dict[str, Any]:
    return {"event": name, "data": data} if data else {"event": name}


ANY_STR = "<str>"
GREETED = [
    {
        "QMP": {
            "version": {
                "qemu": {"micro": "<int>", "minor": "<int>", "major": "<int>"},
                "package": ANY_STR,
            },
            "capabilities": ["oob"],
        }
    }
]
NEGOTIATED = {"greeting": GREETED, "negotiate": [ok()]}
HMP_EMPTY = returns("")
RESUMED = [event("RESUME"), ok()]
STOPPED = [event("STOP"), ok()]
RESET_BY_HOST = event("RESET", guest=False, reason="host-qmp-system-reset")
SHUTDOWN_BY_QUIT = event("SHUTDOWN", guest=False, reason="host-qmp-quit")
# guest-stats before the guest ever sent any: every stat is "unknown" (u64 -1), never updated.
NO_GUEST_STATS = returns(
    {
        "stats": {
            name: (1 << 64) - 1
            for name in (
                "stat-swap-in",
                "stat-swap-out",
                "stat-major-faults",
                "stat-minor-faults",
                "stat-free-memory",
                "stat-total-memory",
                "stat-available-memory",
                "stat-disk-caches",
                "stat-htlb-pgalloc",
                "stat-htlb-pgfail",
            )
        },
        "last-update": 0,
    }
)
RAM_BYTES = 128 << 20  # the default -m
NOT_NEGOTIATED = "Expecting capabilities negotiation with 'qmp_capabilities'"
NO_BALLOON = "No balloon device has been activated"
EXPECTS_A_SIZE = "Parameter 'target' expects a size"
NOT_AN_OBJECT = "QMP input must be a JSON object"
NOT_FOUND = "The command no-such-command has not been found"
NO_OOB = "The command query-status does not support OOB"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"

EXPECTED: dict[str, dict[str, Any]] = {
    "greeting": {
        "greeting": GREETED,
        "command-before-negotiation": [error("CommandNotFound", NOT_NEGOTIATED, id=1)],
        # QEMU says "Parameter 'null' does not accept value 'bogus'": not worth matching.
        "bad-capability": [error("GenericError", ANY_STR)],
        "negotiate": [ok(id="neg")],
        "negotiate-again": [
            error(
                "CommandNotFound", "Capabilities negotiation is already complete, command ignored"
            )
        ],
        "query-version": [
            returns(
                {"qemu": {"micro": "<int>", "minor": "<int>", "major": "<int>"}, "package": ANY_STR}
            )
        ],
        "query-commands": [
            returns(
                [
                    {"name": name}
                    for name in sorted(
                        (
                            "balloon",
                            "cont",
                            "human-monitor-command",
                            "qmp_capabilities",
                            "qom-get",
                            "qom-list",
                            "qom-set",
                            "query-balloon",
                            "query-commands",
                            "query-name",
                            "query-qmp-schema",
                            "query-status",
                            "query-uuid",
                            "query-version",
                            "quit",
                            "stop",
                            "system_powerdown",
                            "system_reset",
                        )
                    )
                ]
            )
        ],
    },
    "run-state": {
        **NEGOTIATED,
        "status-prelaunch": [status("prelaunch")],
        # stop before the first cont neither emits STOP nor leaves prelaunch.
        "stop-in-prelaunch": [ok()],
        "status-still-prelaunch": [status("prelaunch")],
        "cont": RESUMED,
        "status-running": [status("running")],
        "cont-when-running": [ok()],
        "stop": STOPPED,
        "status-paused": [status("paused")],
        "stop-when-paused": [ok()],
        "cont-again": RESUMED,
        "stop-again": STOPPED,
    },
    "identity-default": {
        **NEGOTIATED,
        "query-name": [ok()],
        "query-uuid": [returns({"UUID": ZERO_UUID})],
        "hmp-info-name": [HMP_EMPTY],
        "hmp-info-uuid": [returns(ZERO_UUID + "\r\n")],
    },
    "identity-set": {
        **NEGOTIATED,
        "query-name": [returns({"name": TEST_NAME})],
        "query-uuid": [returns({"UUID": TEST_UUID})],
        "hmp-info-name": [returns(TEST_NAME + "\r\n")],
        "hmp-info-uuid": [returns(TEST_UUID + "\r\n")],
    },
    "balloon": {
        **NEGOTIATED,
        # Not an error without a guest driver: `actual` is host state (all RAM, no balloon).
        "query-balloon": [returns({"actual": RAM_BYTES})],
        "balloon-above-ram": [ok()],
        "balloon-64M": [ok()],
        # No driver, so nothing moves and no BALLOON_CHANGE.
        "no-balloon-change": [],
        "query-balloon-unchanged": [returns({"actual": RAM_BYTES})],
        "balloon-zero": [error("GenericError", EXPECTS_A_SIZE)],
        "balloon-negative": [error("GenericError", EXPECTS_A_SIZE)],
        "hmp-info-balloon": [returns("balloon: actual=128\r\n")],
        "hmp-balloon-100": [HMP_EMPTY],
        "hmp-info-balloon-unchanged": [returns("balloon: actual=128\r\n")],
    },
    "no-balloon": {
        **NEGOTIATED,
        "query-balloon": [error("DeviceNotActive", NO_BALLOON)],
        "balloon": [error("DeviceNotActive", NO_BALLOON)],
        "hmp-info-balloon": [returns(f"Error: {NO_BALLOON}\r\n")],
        "qom-list-peripheral": [returns([{"name": "type", "type": "string"}])],
    },
    "balloon-qom": {
        **NEGOTIATED,
        "qom-list-peripheral": [
            returns(
                [
                    {"name": "balloon0", "type": "child<virtio-balloon-pci>"},
                    {"name": "type", "type": "string"},
                ]
            )
        ],
        "qom-list-balloon": [
            returns(
                [
                    {"name": "guest-stats", "type": "guest statistics"},
                    {"name": "guest-stats-polling-interval", "type": "int"},
                    {"name": "type", "type": "string"},
                ]
            )
        ],
        "qom-get-type": [returns("virtio-balloon-pci")],
        "qom-get-interval": [returns(0)],
        "qom-get-stats": [NO_GUEST_STATS],
        "qom-set-interval": [ok()],
        "qom-get-interval-set": [returns(2)],
        # The PCI proxy's property is an alias of the virtio device's.
        "qom-get-interval-backend": [returns(2)],
        # A partial QOM path resolves when it is unambiguous.
        "qom-get-partial-path": [returns("virtio-balloon-pci")],
        "qom-get-stats-after-set": [NO_GUEST_STATS],
        "qom-set-interval-negative": [
            error("GenericError", "timer value must be greater than zero")
        ],
        "qom-set-interval-string": [
            error(
                "GenericError",
                "Invalid parameter type for 'guest-stats-polling-interval', expected: integer",
            )
        ],
        "qom-set-stats": [
            error("GenericError", "Property 'virtio-balloon-device.guest-stats' is not writable")
        ],
        "qom-set-interval-zero": [ok()],
        "qom-get-interval-zero": [returns(0)],
        "qom-get-no-property": [
            error("GenericError", "Property 'virtio-balloon-pci.no-such-property' not found")
        ],
        "qom-get-no-path": [
            error("DeviceNotFound", "Device '/machine/peripheral/no-such-device' not found")
        ],
        "qom-list-no-path": [error("DeviceNotFound", "Device '/no-such-path' not found")],
    },
    "hmp": {
        **NEGOTIATED,
        "info-status-prelaunch": [returns("VM status: paused (prelaunch)\r\n")],
        "info-balloon": [returns("balloon: actual=128\r\n")],
        "info-version": [returns(ANY_STR)],
        "info-name": [HMP_EMPTY],
        "cont": [event("RESUME"), HMP_EMPTY],
        "info-status-running": [returns("VM status: running\r\n")],
        "stop": [event("STOP"), HMP_EMPTY],
        "info-status-paused": [returns("VM status: paused\r\n")],
        "balloon-100": [HMP_EMPTY],
        # HMP errors are a successful reply carrying the error text.
        "balloon-no-argument": [
            returns('unexpected end of expression\r\nTry "help balloon" for more information\r\n')
        ],
        "unknown-command": [returns("unknown command: 'no-such-command'\r\n")],
        "unknown-info": [returns("unknown command: 'info no-such-thing'\r\n")],
        "missing-command-line": [error("GenericError", "Parameter 'command-line' is missing")],
    },
    "argument-errors": {
        **NEGOTIATED,
        "unknown-command": [error("CommandNotFound", NOT_FOUND)],
        "unknown-command-with-id": [error("CommandNotFound", NOT_FOUND, id=5)],
        "unknown-argument": [error("GenericError", "Parameter 'bogus' is unexpected")],
        "unknown-argument-balloon": [error("GenericError", "Parameter 'bogus' is unexpected")],
        "wrong-type": [
            error("GenericError", "Invalid parameter type for 'value', expected: integer")
        ],
        "wrong-type-float": [
            error("GenericError", "Invalid parameter type for 'value', expected: integer")
        ],
        "missing-argument": [error("GenericError", "Parameter 'value' is missing")],
        "missing-argument-with-id": [error("GenericError", "Parameter 'value' is missing", id=8)],
        "missing-argument-qom-get": [error("GenericError", "Parameter 'property' is missing")],
        "empty-arguments": [status("prelaunch")],
    },
    "framing": {
        **NEGOTIATED,
        "not-an-object": [error("GenericError", NOT_AN_OBJECT)],
        "string": [error("GenericError", NOT_AN_OBJECT)],
        "no-execute": [error("GenericError", "QMP input lacks member 'execute'")],
        "execute-not-string": [
            error("GenericError", "QMP input member 'execute' must be a string")
        ],
        "unexpected-member": [error("GenericError", "QMP input member 'bogus' is unexpected")],
        "unexpected-member-with-id": [
            error("GenericError", "QMP input member 'bogus' is unexpected", id=6)
        ],
        "arguments-not-object": [
            error("GenericError", "QMP input member 'arguments' must be an object")
        ],
        "arguments-null": [error("GenericError", "QMP input member 'arguments' must be an object")],
        "exec-oob-not-negotiated": [
            error("GenericError", "QMP input member 'exec-oob' is unexpected")
        ],
        "id-structured": [status("prelaunch", id={"a": [1, "x"]})],
        "id-null": [status("prelaunch", id=None)],
        # QEMU: "JSON parse error, missing : in object pair", "JSON parse error, duplicate key",
        # "JSON parse error, stray '\uFFFD'" (sic, for the byte 0xff).
        "parse-error": [error("GenericError", ANY_STR)],
        "duplicate-key": [error("GenericError", ANY_STR)],
        "invalid-utf8": [error("GenericError", ANY_STR)],
        "recovers-after-errors": [status("prelaunch", id="ok")],
        "two-on-one-line": [status("prelaunch", id=1), status("prelaunch", id=2)],
        "empty-line": [],
        "split-first-half": [],
        "split-second-half": [status("prelaunch", id="split")],
        # A request ends at its closing brace; no newline is needed.
        "no-newline": [status("prelaunch", id="no-newline")],
        "whitespace-between": [status("prelaunch")],
    },
    "oob": {
        "greeting": GREETED,
        "negotiate-oob": [ok()],
        "exec-oob-not-allowed": [error("GenericError", NO_OOB, id="o1")],
        "exec-oob-without-id": [error("GenericError", NO_OOB)],
        "in-band": [status("prelaunch", id="i1")],
    },
    "reset-powerdown": {
        **NEGOTIATED,
        "reset-prelaunch": [RESET_BY_HOST, ok()],
        "status-after-reset": [status("prelaunch")],
        "cont": RESUMED,
        "stop": STOPPED,
        "reset-paused": [RESET_BY_HOST, ok()],
        # A reset of a machine that is not running puts it back in prelaunch.
        "status-after-paused-reset": [status("prelaunch")],
        # No guest handles the ACPI power button: the machine stays as it was.
        "powerdown": [event("POWERDOWN"), ok()],
        "status-after-powerdown": [status("prelaunch")],
        "hmp-system-reset": [RESET_BY_HOST, HMP_EMPTY],
        "hmp-system-powerdown": [event("POWERDOWN"), HMP_EMPTY],
    },
    "quit": {
        **NEGOTIATED,
        # The event comes first, then the reply, then the server hangs up.
        "quit": [SHUTDOWN_BY_QUIT, ok(id="q"), CLOSED_MARK],
        "<exit status>": 0,
    },
    "two-monitors": {
        "greeting-0": GREETED,
        "greeting-1": GREETED,
        "greeting-2": GREETED,
        "negotiate-0": [ok()],
        "negotiate-1": [ok()],
        "cont-on-0": RESUMED,
        "resume-on-1": [event("RESUME")],
        # Events go only to monitors in command mode, and are not queued for later.
        "nothing-on-unnegotiated-2": [],
        "stop-on-1": STOPPED,
        "stop-on-0": [event("STOP")],
        "status-on-0": [status("paused")],
        "negotiate-2": [ok()],
        "quit-on-2": [SHUTDOWN_BY_QUIT, ok(), CLOSED_MARK],
        "shutdown-on-0": [SHUTDOWN_BY_QUIT, CLOSED_MARK],
        "shutdown-on-1": [SHUTDOWN_BY_QUIT, CLOSED_MARK],
        "<exit status>": 0,
    },
}

# ---------------------------------------------------------------------------------------------
# Checks on the raw wire


def check_wire(transcript: Transcript) -> None:
    """Line ends, event timestamps, and how the server hung up."""
    now = time.time()
    for record in transcript["steps"]:
        where = f"{transcript['session']}/{record['step']}"
        for line in record["received"]:
            assert line.endswith("\r\n"), f"{where}: line not ended by CRLF: {line!r}"
        for message in record["messages"]:
            if isinstance(message, dict) and "event" in message:
                stamp = message.get("timestamp")
                assert isinstance(stamp, dict) and set(stamp) == {"seconds", "microseconds"}, (
                    f"{where}: bad timestamp {stamp!r}"
                )
                assert isinstance(stamp["seconds"], int) and abs(stamp["seconds"] - now) < 3600
                assert isinstance(stamp["microseconds"], int)
                assert 0 <= stamp["microseconds"] < 1_000_000
        # After quit QEMU hangs up; the kernel reports a reset instead of an end of file when
        # the newline after `quit` is still unread in QEMU's socket.
        assert record["closed"] in (None, "eof", "reset"), where
        assert not record["timed_out"], f"{where}: timed out: {record['received']}"


def event_stamps(transcript: Transcript, step: str) -> list[dict[str, int]]:
    record = next(record for record in transcript["steps"] if record["step"] == step)
    return [message["timestamp"] for message in record["messages"] if "event" in message]


# ---------------------------------------------------------------------------------------------
# Tests


@pytest.fixture(params=TARGET_NAMES)
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "qemu":
        return make_target("qemu", str(request.getfixturevalue("qemu_binary")))
    return make_target(request.param)


@pytest.mark.parametrize("session", SESSIONS, ids=[session.name for session in SESSIONS])
def test_session(target: Target, session: Session) -> None:
    transcript = run_session(target, session)
    check_wire(transcript)
    differences = diff_normalized(EXPECTED[session.name], normalize_transcript(session, transcript))
    assert not differences, f"{target.name}, session {session.name}:\n" + "\n".join(differences)


def test_one_event_reaches_every_monitor_with_one_timestamp(target: Target) -> None:
    transcript = run_session(target, SESSIONS_BY_NAME["two-monitors"])
    assert event_stamps(transcript, "cont-on-0") == event_stamps(transcript, "resume-on-1")
    assert event_stamps(transcript, "stop-on-1") == event_stamps(transcript, "stop-on-0")


def test_every_session_has_expectations() -> None:
    assert set(EXPECTED) == {session.name for session in SESSIONS}
    for session in SESSIONS:
        steps = [step.name for step in session.steps] + (["<exit status>"] if session.exits else [])
        assert list(EXPECTED[session.name]) == steps, session.name


def test_qemu_is_7_2(qemu_binary: Path) -> None:
    transcript = run_session(make_target("qemu", str(qemu_binary)), SESSIONS_BY_NAME["greeting"])
    greeting = transcript["steps"][0]["messages"][0]
    version = greeting["QMP"]["version"]["qemu"]
    assert (version["major"], version["minor"]) == (7, 2), greeting
    query_version = next(
        record for record in transcript["steps"] if record["step"] == "query-version"
    )
    assert query_version["messages"] == [{"return": greeting["QMP"]["version"]}]


def test_reference_transcripts_match_expectations() -> None:
    """qemu_7.2_transcripts.json is QEMU's output for the current sessions (else re-record it
    with record_qemu_transcripts.py)."""
    assert REFERENCE_TRANSCRIPTS.is_file(), f"{REFERENCE_TRANSCRIPTS} is missing"
    reference = load_reference_transcripts()
    assert set(reference) == set(EXPECTED)
    for session in SESSIONS:
        check_wire_shape_only(reference[session.name])
        differences = diff_normalized(
            EXPECTED[session.name], normalize_transcript(session, reference[session.name])
        )
        assert not differences, f"recorded {session.name}:\n" + "\n".join(differences)


def check_wire_shape_only(transcript: Transcript) -> None:
    for record in transcript["steps"]:
        assert all(line.endswith("\r\n") for line in record["received"]), record["step"]
        assert not record["timed_out"], record["step"]


@pytest.mark.parametrize("session", SESSIONS, ids=[session.name for session in SESSIONS])
def test_pyqmp_machine_answers_as_qemu(qemu_binary: Path, session: Session) -> None:
    """The same session, run live against QEMU 7.2 and against `pyqmp machine`, gives the
    same normalized transcript: error classes exactly, descs where clients depend on them,
    the shape of everything else (test_session also holds each to the written EXPECTED)."""
    qemu = normalize_transcript(
        session, run_session(make_target("qemu", str(qemu_binary)), session)
    )
    pyqmp = normalize_transcript(session, run_session(make_target("pyqmp"), session))
    differences = diff_normalized(qemu, pyqmp)
    assert not differences, f"session {session.name}, qemu vs pyqmp:\n" + "\n".join(differences)
