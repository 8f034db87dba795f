"""The transcript normalizer (qmp_compare.py) and session data checks, on hand-made
transcripts: no server needed."""

from __future__ import annotations

from typing import Any

import pytest
from qmp_compare import (
    CLOSED_MARK,
    EXACT,
    TIMED_OUT_MARK,
    Compare,
    compare_transcripts,
    normalize_message,
    normalize_step,
    shape_of,
)
from qmp_sessions import Request, Session, Step, command


def record(
    *messages: Any, closed: str | None = None, timed_out: bool = False, step: str = "s"
) -> dict[str, Any]:
    return {
        "step": step,
        "connection": 0,
        "sent": None,
        "received": [],
        "messages": list(messages),
        "closed": closed,
        "timed_out": timed_out,
    }


STAMP = {"seconds": 1, "microseconds": 2}


def test_timestamps_are_dropped_and_events_kept() -> None:
    message = {"timestamp": STAMP, "event": "STOP"}
    assert normalize_message(message, EXACT) == {"event": "STOP"}


def test_error_class_always_compared_desc_per_step() -> None:
    message = {"error": {"class": "GenericError", "desc": "JSON parse error, duplicate key"}}
    assert normalize_message(message, EXACT) == message
    assert normalize_message(message, Compare(exact_desc=False)) == {
        "error": {"class": "GenericError", "desc": "<str>"}
    }


def test_type_only_paths_keep_structure() -> None:
    message = {
        "return": {
            "qemu": {"major": 7, "minor": 2},
            "package": "Debian",
            "ok": True,
            "list": [1, None, 1.5],
        }
    }
    assert normalize_message(message, Compare(type_only=("return.qemu", "return.list.*"))) == {
        "return": {
            "qemu": {"major": "<int>", "minor": "<int>"},
            "package": "Debian",
            "ok": True,
            "list": ["<int>", "<null>", "<number>"],
        }
    }
    assert shape_of({"a": [True, "x", {}]}) == {"a": ["<bool>", "<str>", {}]}


def test_only_names_keeps_listed_entries_sorted() -> None:
    message = {"return": [{"name": "z"}, {"name": "stop"}, {"name": "cont", "type": "x"}]}
    compare = Compare(only_names=("return", frozenset({"cont", "stop", "missing"})))
    assert normalize_message(message, compare) == {
        "return": [{"name": "cont", "type": "x"}, {"name": "stop"}]
    }


def test_ordered_and_unordered_steps() -> None:
    step = record({"return": {}}, {"event": "STOP", "timestamp": STAMP}, closed="reset")
    assert normalize_step(step, EXACT) == [{"return": {}}, {"event": "STOP"}, CLOSED_MARK]
    assert normalize_step(step, Compare(ordered=False)) == {
        "replies": [{"return": {}}, CLOSED_MARK],
        "events": [{"event": "STOP"}],
    }


def test_eof_and_reset_are_both_closed_and_timeouts_are_marked() -> None:
    assert normalize_step(record(closed="eof"), EXACT) == normalize_step(
        record(closed="reset"), EXACT
    )
    assert normalize_step(record(timed_out=True), EXACT) == [TIMED_OUT_MARK]


def test_compare_transcripts_reports_differing_steps() -> None:
    session = Session("s", "", (command("a", "stop", events=1), command("b", "query-status")))

    def transcript(*records: dict[str, Any]) -> dict[str, Any]:
        return {
            "session": "s",
            "target": "t",
            "argv": [],
            "steps": list(records),
            "exit_status": None,
        }

    stop = record({"event": "STOP", "timestamp": STAMP}, {"return": {}}, step="a")
    late_stop = record({"return": {}}, {"event": "STOP", "timestamp": STAMP}, step="a")
    status = record({"return": {"status": "paused"}}, step="b")
    assert compare_transcripts(session, transcript(stop, status), transcript(stop, status)) == []
    differences = compare_transcripts(
        session, transcript(stop, status), transcript(late_stop, status)
    )
    assert len(differences) == 1 and differences[0].startswith("a:")


def test_request_encoding() -> None:
    assert Request("query-status").encode() == b'{"execute": "query-status"}\n'
    assert (
        Request("x", {"a": 1}, id=None).encode()
        == b'{"execute": "x", "arguments": {"a": 1}, "id": null}\n'
    )
    assert Request("x", id=3, oob=True).encode() == b'{"exec-oob": "x", "id": 3}\n'


def test_sessions_reject_duplicate_steps_and_unknown_connections() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Session("s", "", (Step("a", b"x"), Step("a", b"y")))
    with pytest.raises(ValueError, match="no connection 1"):
        Session("s", "", (Step("a", b"x", connection=1),))
