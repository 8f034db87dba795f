"""Request rules (qmp-dispatch.c) and the exact bytes of greeting, replies and events."""

from __future__ import annotations

import json

import pytest

from pyqmp.protocol import (
    CommandRequest,
    EncodeError,
    EventTimestamp,
    RequestError,
    encode_error,
    encode_event,
    encode_greeting,
    encode_return,
    parse_request,
)
from pyqmp.protocol.messages import encode_id, encode_return_encoded, is_oob_shaped


def test_plain_request() -> None:
    request = parse_request({"execute": "query-status"}, False)
    assert isinstance(request, CommandRequest)
    assert (request.name, request.arguments, request.id, request.has_id, request.oob) == (
        "query-status",
        {},
        None,
        False,
        False,
    )


def test_request_with_arguments_and_id() -> None:
    request = parse_request({"execute": "x", "arguments": {"a": 1}, "id": [1]}, False)
    assert isinstance(request, CommandRequest)
    assert (request.arguments, request.id, request.has_id) == ({"a": 1}, [1], True)


def test_null_id_is_an_id() -> None:
    request = parse_request({"execute": "x", "id": None}, False)
    assert isinstance(request, CommandRequest)
    assert request.has_id and request.id is None


def test_exec_oob_once_enabled() -> None:
    request = parse_request({"exec-oob": "x", "id": 1}, True)
    assert isinstance(request, CommandRequest)
    assert request.oob and request.name == "x"


def test_requests_compare_by_identity() -> None:
    first = parse_request({"execute": "x"}, False)
    second = parse_request({"execute": "x"}, False)
    assert first != second
    assert "execute='x'" in repr(first)


@pytest.mark.parametrize(
    ("value", "oob", "desc", "has_id"),
    [
        ([{"execute": "x"}], False, "QMP input must be a JSON object", False),
        ("x", False, "QMP input must be a JSON object", False),
        ({"id": 1}, False, "QMP input lacks member 'execute'", True),
        ({}, False, "QMP input lacks member 'execute'", False),
        ({"execute": 1}, False, "QMP input member 'execute' must be a string", False),
        (
            {"execute": "x", "arguments": []},
            False,
            "QMP input member 'arguments' must be an object",
            False,
        ),
        (
            {"execute": "x", "arguments": None},
            False,
            "QMP input member 'arguments' must be an object",
            False,
        ),
        ({"execute": "x", "foo": 1, "id": 2}, False, "QMP input member 'foo' is unexpected", True),
        ({"execute": "x", "control": {}}, False, "QMP input member 'control' is unexpected", False),
        ({"exec-oob": "x"}, False, "QMP input member 'exec-oob' is unexpected", False),
        ({"exec-oob": 1}, True, "QMP input member 'exec-oob' must be a string", False),
        (
            {"execute": "a", "exec-oob": "b"},
            True,
            "QMP input member 'execute' clashes with 'exec-oob'",
            False,
        ),
        # several faults: the first in QDict order is named
        (
            {"foo": 1, "bar": 2, "execute": "x"},
            False,
            "QMP input member 'bar' is unexpected",
            False,
        ),
        (
            {"id": 1, "zzz": 1, "execute": 5},
            False,
            "QMP input member 'execute' must be a string",
            True,
        ),
    ],
)
def test_malformed_requests(value: object, oob: bool, desc: str, has_id: bool) -> None:
    error = parse_request(value, oob)  # type: ignore[arg-type]
    assert isinstance(error, RequestError)
    assert (error.desc, error.error_class, error.has_id) == (desc, "GenericError", has_id)


def test_oob_shape() -> None:
    assert is_oob_shaped({"exec-oob": "x"})
    assert not is_oob_shaped({"exec-oob": "x", "execute": "y"})
    assert not is_oob_shaped(["exec-oob"])


# -- outgoing ----------------------------------------------------------------------------


def test_return_bytes() -> None:
    assert encode_return({}) == b'{"return": {}}\r\n'
    assert encode_return({}, 1, True) == b'{"return": {}, "id": 1}\r\n'
    assert encode_return([1, "\u00e9"], None, True) == b'{"return": [1,"\\u00E9"], "id": null}\r\n'


@pytest.mark.parametrize(
    ("request_id", "text"),
    [
        (None, b"null"),
        (True, b"true"),
        (False, b"false"),
        (0, b"0"),
        (-1, b"-1"),
        (1.0, b"1"),
        (0.1, b"0.10000000000000001"),
        (float("inf"), b"inf"),
        ("s", b'"s"'),
        ("\u00e9\x7f\x1f", b'"\\u00E9\\u007F\\u001F"'),
        ([], b"[]"),
        ({}, b"{}"),
        ([1, {"b": 1, "a": 2}], b'[1, {"a": 2, "b": 1}]'),  # QDict order
    ],
)
def test_id_is_echoed_as_qemu_writes_it(request_id: object, text: bytes) -> None:
    assert encode_id(request_id) == text  # type: ignore[arg-type]


def test_error_bytes() -> None:
    assert encode_error("GenericError", "bad") == (
        b'{"error": {"class": "GenericError", "desc": "bad"}}\r\n'
    )
    assert encode_error("CommandNotFound", "x \u00e9", "a", True) == (
        b'{"id": "a", "error": {"class": "CommandNotFound", "desc": "x \\u00E9"}}\r\n'
    )


def test_error_class_must_be_qmps() -> None:
    with pytest.raises(EncodeError):
        encode_error("NoSuchClass", "x")


def test_event_bytes() -> None:
    stamp = EventTimestamp(1700000000, 5)
    assert encode_event("STOP", None, stamp) == (
        b'{"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event": "STOP"}\r\n'
    )
    assert encode_event("X", {"a": [1]}, stamp) == (
        b'{"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event": "X",'
        b' "data": {"a":[1]}}\r\n'
    )


def test_event_timestamps() -> None:
    assert EventTimestamp.from_seconds(1700000000.25) == (1700000000, 250000)
    assert EventTimestamp.from_microseconds(1_700_000_000_000_001) == (1700000000, 1)


def test_greeting_bytes_are_qemus() -> None:
    version = {"qemu": {"major": 7, "minor": 2, "micro": 22}, "package": "Debian 1:7.2+dfsg-7"}
    assert encode_greeting(version, ["oob"]) == (
        b'{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, '
        b'"package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}}\r\n'
    )
    assert encode_greeting(version, []).endswith(b'"capabilities": []}}\r\n')


def test_pre_encoded_return_is_made_ascii() -> None:
    assert encode_return_encoded('{"a":"\u00e9"}'.encode(), 3, True) == (
        b'{"return": {"a":"\\u00E9"}, "id": 3}\r\n'
    )


def test_every_message_is_one_ascii_line() -> None:
    for message in (
        encode_return({"text": "line\r\nbreak \u2028"}, "id\n", True),
        encode_error("GenericError", "a\r\nb"),
        encode_event("E", {"s": "\n"}, EventTimestamp(0, 0)),
    ):
        assert message.isascii()
        assert message.endswith(b"\r\n") and message.count(b"\n") == 1
        json.loads(message)
