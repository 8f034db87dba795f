"""QEMU's JSON dialect: the exact parser's values and errors, and QEMU's writer."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyqmp.protocol import EncodeError, JSONParseError
from pyqmp.protocol.qemu_json import (
    ascii_json,
    dumps,
    dumps_ascii,
    mod_utf8_codepoint,
    parse_message,
    parse_number,
    parse_string,
    qemu_text,
)


def parse_error(text: bytes) -> str:
    with pytest.raises(JSONParseError) as caught:
        parse_message(text)
    return caught.value.desc


@pytest.mark.parametrize(
    ("token", "value"),
    [
        (b'"plain"', "plain"),
        (b"'single \"quoted\"'", 'single "quoted"'),
        (b'"\\\'\\"\\\\\\/\\b\\f\\n\\r\\t"', "'\"\\/\b\f\n\r\t"),
        (b'"\\u00e9\\u00E9"', "\u00e9\u00e9"),
        (b'"\\ud83d\\ude00"', "\U0001f600"),
        (b'"\\u0000"', "\x00"),
        (b'"a\xc0\x80b"', "a\x00b"),
        (b'"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"', "\u00e9\u20ac\U0001f600"),
        (b'"\x7f"', "\x7f"),
    ],
)
def test_strings(token: bytes, value: str) -> None:
    assert parse_string(token) == value


@pytest.mark.parametrize(
    ("token", "desc"),
    [
        (b'"\\x"', "invalid escape sequence in string"),
        (b'"\\ud83d"', "\\ud83d is not a valid Unicode character"),
        (b'"\\udc00"', "\\udc00 is not a valid Unicode character"),
        (b'"\\ud83d\\u0041"', "\\ud83d is not a valid Unicode character"),
        (b'"\\uffff"', "\\uffff is not a valid Unicode character"),
        (b'"\\ufdd0"', "\\ufdd0 is not a valid Unicode character"),
        (b'"\\udbff\\udfff"', "\\udbff\\udfff is not a valid Unicode character"),
        (b'"\\u12"', '\\u12" is not a valid Unicode character'),
        (b'"\\u12G4"', "\\u12G4 is not a valid Unicode character"),
        (b'"\xc0\xaf"', "invalid UTF-8 sequence in string"),
        (b'"\xed\xa0\x80"', "invalid UTF-8 sequence in string"),
        (b'"\xef\xbf\xbe"', "invalid UTF-8 sequence in string"),
        (b'"\xf4\x90\x80\x80"', "invalid UTF-8 sequence in string"),
        (b'"\xe2\x82"', "invalid UTF-8 sequence in string"),
        # the first fault met wins
        (b'"\\x\xc0"', "invalid escape sequence in string"),
        (b'"\xc0\\x"', "invalid UTF-8 sequence in string"),
    ],
)
def test_string_errors(token: bytes, desc: str) -> None:
    with pytest.raises(JSONParseError) as caught:
        parse_string(token)
    assert caught.value.desc == "JSON parse error, " + desc


@pytest.mark.parametrize(
    ("token", "value"),
    [
        (b"0", 0),
        (b"-0", 0),
        (b"9223372036854775807", 2**63 - 1),
        (b"9223372036854775808", 2**63),
        (b"18446744073709551615", 2**64 - 1),
        (b"18446744073709551616", 18446744073709551616.0),
        (b"-9223372036854775808", -(2**63)),
        (b"-9223372036854775809", -9223372036854775809.0),
        (b"1.5", 1.5),
        (b"1e400", float("inf")),
        (b"-0.0", -0.0),
        (b"2E+3", 2000.0),
    ],
)
def test_numbers(token: bytes, value: float) -> None:
    parsed = parse_number(token)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("text", "desc"),
    [
        (b"{", "premature EOI"),
        (b"{ }", None),
        (b'{"a" }', "missing : in object pair"),
        (b'{"a":}', "expecting value"),
        (b"{1:2}", "key is not a string in object"),
        (b"{[1]:2}", "key is not a string in object"),
        (b'{"a":1 "b":2}', "expected separator in dict"),
        (b"[1 2]", "expected separator in list"),
        (b"[1,]", "expecting value"),
        (b'{"a":1,"a":2}', "duplicate key"),
        (b"nul", "invalid keyword 'nul'"),
        (b"}", "expecting value"),
        (b"[", "premature EOI"),
        (b"[1", "premature EOI"),
        (b'{"a":1', "premature EOI"),
        (b'{"a":1,', "premature EOI"),
    ],
)
def test_parse_errors(text: bytes, desc: str | None) -> None:
    if desc is None:
        assert parse_message(text) == {}
    else:
        assert parse_error(text) == "JSON parse error, " + desc


def test_deep_nesting_is_parsed_without_recursion() -> None:
    value = parse_message(b"[" * 5000 + b"]" * 5000)
    depth = 0
    while isinstance(value, list) and value:
        value = value[0]
        depth += 1
    assert depth == 4999


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"plain", "plain"),
        (b"a\x00b", "a"),
        (b"\xff", "\ufffd"),
        (b"\xe9A", "\ufffdA"),
        (b"\xed\xa0\x80", "\ufffd"),  # one sequence, one replacement (Python would make three)
        (b"\xf8\x88\x80\x80\x80", "\ufffd"),
        (b"\xe2\x82", "\ufffd"),
        (b"\xc0\x80", "\x00"),
        (b"\xef\xbf\xbf", "\ufffd"),
        (b"\xc3\xa9", "\u00e9"),
    ],
)
def test_qemu_text(raw: bytes, text: str) -> None:
    assert qemu_text(raw) == text


def test_mod_utf8_codepoint_ends() -> None:
    assert mod_utf8_codepoint(b"\xe2\x82A", 0) == (-1, 2)
    assert mod_utf8_codepoint(b"\x80", 0) == (-1, 1)
    assert mod_utf8_codepoint(b"\xc0\xaf", 0) == (-1, 2)
    assert mod_utf8_codepoint(b"", 0) == (-1, 0)


# -- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-5, "-5"),
        (2**64 - 1, "18446744073709551615"),
        (0.1, "0.10000000000000001"),
        (1.0, "1"),
        (-0.0, "-0"),
        (1e22, "1e+22"),
        (float("inf"), "inf"),
        (1.2345678901234568e29, "1.2345678901234568e+29"),
        (
            'a"\\/\b\f\n\r\t\x01\x1f\x7f\u00e9\U0001f600',
            '"a\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001F\\u007F\\u00E9\\uD83D\\uDE00"',
        ),
        ("\ufffe\ud800", '"\\uFFFD\\uFFFD"'),
        ([], "[]"),
        ({}, "{}"),
        ([1, [2, {}]], "[1, [2, {}]]"),
        # members in QDict order, not in the order given
        ({"id": 1, "error": 2}, '{"id": 1, "error": 2}'),
        ({"error": 2, "id": 1}, '{"id": 1, "error": 2}'),
        ({"major": 7, "minor": 2, "micro": 0}, '{"micro": 0, "minor": 2, "major": 7}'),
    ],
)
def test_dumps_is_qemus_writer(value: object, text: str) -> None:
    assert dumps(value) == text


def test_dumps_deep_value() -> None:
    value: list[object] = []
    for _ in range(3000):
        value = [value]
    assert dumps(value) == "[" * 3001 + "]" * 3001


def test_dumps_refuses_what_has_no_json_form() -> None:
    with pytest.raises(EncodeError, match=r"args\.x\[1\]: bytes has no JSON form"):
        dumps({"args": {"x": [1, b"raw"]}})
    with pytest.raises(EncodeError, match="not a string"):
        dumps({1: 2})
    with pytest.raises(EncodeError):
        dumps_ascii({"a": {1, 2}})


def test_ascii_json() -> None:
    assert ascii_json('{"a":"\u00e9\U0001f600\x7f"}'.encode()) == (
        b'{"a":"\\u00E9\\uD83D\\uDE00\\u007F"}'
    )
    assert ascii_json(b'["\\u001f", "\\\\u001f"]') == b'["\\u001F", "\\\\u001f"]'


# Text QEMU can hold: no surrogates, no noncharacters (its writer turns those into
# U+FFFD, see test_dumps_is_qemus_writer).
qemu_text_values = st.text(
    st.characters(exclude_categories=("Cs",)).filter(
        lambda char: not (0xFDD0 <= ord(char) <= 0xFDEF or ord(char) & 0xFFFE == 0xFFFE)
    )
)
plain_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | qemu_text_values,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(qemu_text_values.filter(lambda key: len(key) < 6), children, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(plain_json)
def test_fast_and_exact_writers_agree_as_json(value: object) -> None:
    fast = dumps_ascii(value)
    exact = dumps(value).encode("ascii")
    assert fast.isascii()
    assert json.loads(fast) == json.loads(exact) == json.loads(json.dumps(value))


@settings(max_examples=300, deadline=None)
@given(plain_json)
def test_written_text_reads_back(value: object) -> None:
    assert json.loads(dumps(value)) == json.loads(json.dumps(value))
