"""Subject tokens: every name maps to one token and back; nothing else decodes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyqmp.agent import subjects
from pyqmp.agent.errors import SubjectError

NAMES = st.text(min_size=1, max_size=60).filter(
    lambda name: (
        len(name.encode("utf-8", "surrogatepass")) <= subjects.MAX_NAME_BYTES
        and not any(0xD800 <= ord(char) <= 0xDFFF for char in name)
    )
)


@given(NAMES)
def test_every_name_round_trips_through_a_safe_token(name: str) -> None:
    token = subjects.escape_token(name)
    assert subjects.unescape_token(token) == name
    assert token.isascii() and token.isprintable()
    assert not set(token) & set(". *>\t\r\n")


@given(st.text(min_size=1, max_size=40))
def test_a_token_decodes_only_if_encoding_makes_it(token: str) -> None:
    try:
        name = subjects.unescape_token(token)
    except SubjectError:
        return
    assert subjects.escape_token(name) == token


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("vm-100", "vm-100"),
        ("web_1", "web_1"),
        ("node1.example.com", "node1%2Eexample%2Ecom"),
        ("a b", "a%20b"),
        ("*", "%2A"),
        (">", "%3E"),
        ("50%", "50%25"),
        ("é", "%C3%A9"),
    ],
)
def test_escaping_examples(name: str, token: str) -> None:
    assert subjects.escape_token(name) == token


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "empty"),
        ("%2", "not escaped as %XX"),
        ("%zz", "not escaped as %XX"),
        ("%2e", "not escaped as %XX"),  # lower-case hex is never written
        ("%41", "escapes a kept character"),  # 'A' is kept, so never escaped
        ("%FF", "does not decode as UTF-8"),
        ("a.b", "not escaped as %XX"),
    ],
)
def test_tokens_no_name_has(token: str, message: str) -> None:
    with pytest.raises(SubjectError, match=message):
        subjects.unescape_token(token)


def test_names_refused() -> None:
    with pytest.raises(SubjectError, match="empty"):
        subjects.escape_token("")
    with pytest.raises(SubjectError, match="at most 255"):
        subjects.escape_token("x" * 256)
    with pytest.raises(SubjectError, match="not valid UTF-8"):
        subjects.escape_token("bad\udcff")


def test_subjects_and_their_parsing() -> None:
    subject = subjects.event_subject("rack.b", "vm 1", "STOP")
    assert subject == "qmp.rack%2Eb.vm%201.event.STOP"
    assert subjects.parse_event_subject(subject) == ("rack.b", "vm 1", "STOP")
    assert subjects.execute_subject("h", "v") == "qmp.h.v.execute"
    assert subjects.parse_execute_subject("qmp.h.v.execute") == ("h", "v")
    assert subjects.list_subject("h.x") == "qmp.h%2Ex.list"
    assert subjects.execute_wildcard("h") == "qmp.h.*.execute"
    assert subjects.events_filter(None, "vm-1", None) == "qmp.*.vm-1.event.*"
    for bad in ("qmp.h.v.event", "qmp.h.v.events.X", "nats.h.v.event.X", "qmp.h.v.event.X.Y"):
        with pytest.raises(SubjectError, match="not an event subject"):
            subjects.parse_event_subject(bad)
    with pytest.raises(SubjectError, match="not an execute subject"):
        subjects.parse_execute_subject("qmp.h.execute")
