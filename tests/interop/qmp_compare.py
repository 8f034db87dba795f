"""Comparing transcripts of scripted QMP sessions across implementations.

`normalize_transcript` reduces a transcript (see qmp_sessions.run_session) to what must be equal
between QEMU and pyqmp: event timestamps are dropped, error classes are always compared, and each
step's `Compare` says which values are compared by their JSON type only (version strings, say),
whether error descs are compared exactly, which entries of a long list matter, and whether events
and replies must arrive in the same order.  A closed connection and a step that ran out of time
show up as marks, so that they too must match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qmp_sessions import Session

JSON = Any
Transcript = dict[str, Any]

# Appended to a step's normalized messages when the connection closed or the wait ran out.
CLOSED_MARK = "<closed>"
TIMED_OUT_MARK = "<timed out>"


@dataclass(frozen=True)
class Compare:
    """Which parts of a step's messages must be equal across implementations.

    Error classes are always compared.  Paths are dotted keys from the message root, `*`
    matching any key or list index (e.g. "return.qemu", "return.*.name").
    """

    exact_desc: bool = True  # else: only that `desc` is a string
    type_only: tuple[str, ...] = ()  # values compared by their JSON type only
    # (path of a list of {"name": ...} objects, names): keep only those entries, sorted by name
    only_names: tuple[str, frozenset[str]] | None = None
    ordered: bool = True  # else events and replies compared separately


EXACT = Compare()
GREETING = Compare(type_only=("QMP.version",))


def type_name(value: JSON) -> str:
    if value is None:
        return "<null>"
    if isinstance(value, bool):
        return "<bool>"
    if isinstance(value, int):
        return "<int>"
    if isinstance(value, float):
        return "<number>"
    if isinstance(value, str):
        return "<str>"
    if isinstance(value, list):
        return "<array>"
    return "<object>"


def shape_of(value: JSON) -> JSON:
    """The value with every scalar replaced by its type name (structure kept)."""
    if isinstance(value, dict):
        return {key: shape_of(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape_of(item) for item in value]
    return type_name(value)


def _transform_at(value: JSON, path: Sequence[str], transform: Any) -> JSON:
    if not path:
        return transform(value)
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {
            key: (_transform_at(item, rest, transform) if head in ("*", key) else item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            (_transform_at(item, rest, transform) if head in ("*", str(index)) else item)
            for index, item in enumerate(value)
        ]
    return value


def _keep_names(names: frozenset[str]) -> Any:
    def keep(value: JSON) -> JSON:
        if not isinstance(value, list):
            return value
        kept = [item for item in value if isinstance(item, dict) and item.get("name") in names]
        return sorted(kept, key=lambda item: str(item["name"]))

    return keep


def normalize_message(message: JSON, compare: Compare) -> JSON:
    if not isinstance(message, dict):
        return message
    message = {key: value for key, value in message.items() if key != "timestamp"}
    error = message.get("error")
    if isinstance(error, dict) and not compare.exact_desc and "desc" in error:
        message["error"] = {**error, "desc": type_name(error["desc"])}
    if compare.only_names is not None:
        path, names = compare.only_names
        message = _transform_at(message, path.split("."), _keep_names(names))
    for path in compare.type_only:
        message = _transform_at(message, path.split("."), shape_of)
    return message


def normalize_step(record: Mapping[str, Any], compare: Compare) -> JSON:
    messages = [normalize_message(message, compare) for message in record["messages"]]
    marks = ([TIMED_OUT_MARK] if record["timed_out"] else []) + (
        [CLOSED_MARK] if record["closed"] else []
    )
    if compare.ordered:
        return messages + marks
    events = [message for message in messages if isinstance(message, dict) and "event" in message]
    replies = [message for message in messages if message not in events]
    return {"replies": replies + marks, "events": events}


def normalize_transcript(session: Session, transcript: Transcript) -> dict[str, JSON]:
    """Step name → normalized messages: what two implementations' transcripts must share."""
    records = {record["step"]: record for record in transcript["steps"]}
    normalized: dict[str, JSON] = {
        step.name: normalize_step(records[step.name], step.compare)
        for step in session.steps
        if step.name in records
    }
    if session.exits:
        normalized["<exit status>"] = transcript["exit_status"]
    return normalized


def diff_normalized(expected: Mapping[str, JSON], actual: Mapping[str, JSON]) -> list[str]:
    """One line per step whose normalized messages differ."""
    lines = []
    for name in list(expected) + [name for name in actual if name not in expected]:
        want, got = expected.get(name, "<missing>"), actual.get(name, "<missing>")
        if want != got:
            lines.append(f"{name}:\n  expected {json.dumps(want)}\n  actual   {json.dumps(got)}")
    return lines


def compare_transcripts(session: Session, reference: Transcript, other: Transcript) -> list[str]:
    """Differences between two targets' transcripts of `session`, after normalization."""
    return diff_normalized(
        normalize_transcript(session, reference), normalize_transcript(session, other)
    )
