"""The framer: QEMU's message boundaries, errors, recovery and limits, for any chunking."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_lexer_oracle import OracleStreamer

from pyqmp.protocol import DEFAULT_LIMITS, FrameError, FrameItem, JSONStreamer, Limits
from pyqmp.protocol.framing import NESTING_EXCEEDED, TOKEN_COUNT_EXCEEDED, TOKEN_SIZE_EXCEEDED

SMALL = Limits(max_token_size=64, max_token_count=16, max_nesting=4)


def frame(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[FrameItem]:
    return JSONStreamer(limits).feed(data)


def frame_chunks(chunks: list[bytes], limits: Limits = DEFAULT_LIMITS) -> list[FrameItem]:
    streamer = JSONStreamer(limits)
    items: list[FrameItem] = []
    for chunk in chunks:
        items += streamer.feed(chunk)
    return items


def err(desc: str) -> FrameError:
    return FrameError(desc)


def parse_err(message: str) -> FrameError:
    return FrameError("JSON parse error, " + message)


# -- boundaries ------------------------------------------------------------------------


def test_one_message() -> None:
    assert frame(b'{"execute": "query-status"}') == [{"execute": "query-status"}]


def test_messages_sharing_a_chunk() -> None:
    assert frame(b'{"a": 1}{"b": 2}\n{"c": 3} {"d": [4]}') == [
        {"a": 1},
        {"b": 2},
        {"c": 3},
        {"d": [4]},
    ]


def test_message_spanning_chunks() -> None:
    data = b'{"execute": "query-status", "arguments": {"x": [1, 2.5, "s"]}, "id": null}'
    for cut in range(len(data) + 1):
        assert frame_chunks([data[:cut], data[cut:]]) == [json.loads(data)]


def test_whitespace_between_messages_is_ignored() -> None:
    assert frame(b' \t\r\n{"a": 1}\r\n\r\n \t') == [{"a": 1}]


def test_scalars_are_messages_of_their_own() -> None:
    assert frame(b'"s" 1 2.5 true false null [] {}\n') == ["s", 1, 2.5, True, False, None, [], {}]


def test_number_waits_for_the_byte_after_it() -> None:
    streamer = JSONStreamer()
    assert streamer.feed(b"12") == []
    assert streamer.feed(b"34") == []
    assert streamer.feed(b" ") == [1234]


def test_keyword_waits_for_the_byte_after_it() -> None:
    streamer = JSONStreamer()
    assert streamer.feed(b"tru") == []
    assert streamer.feed(b"e") == []
    assert streamer.feed(b"\n") == [True]


def test_a_closer_ends_a_message_early() -> None:
    # Balance is by counts: '[{]' is not complete, '}' then makes it so.
    assert frame(b"[{]}") == [parse_err("expecting value")]
    assert frame(b'{"a": 1]') == [parse_err("expected separator in dict")]


# -- QEMU's dialect ----------------------------------------------------------------------


def test_single_quoted_strings() -> None:
    assert frame(b"{'execute': 'it\\'s \"quoted\"'}") == [{"execute": 'it\'s "quoted"'}]


def test_escapes() -> None:
    data = b'["\\\'", "\\u00e9", "\\ud83d\\ude00", "\\u0000", "\\/\\b\\f\\n\\r\\t\\"\\\\"]'
    assert frame(data) == [["'", "\u00e9", "\U0001f600", "\x00", '/\b\f\n\r\t"\\']]


def test_modified_utf8_nul() -> None:
    assert frame(b'"a\xc0\x80b"') == ["a\x00b"]


def test_integers_beyond_64_bits_become_floats() -> None:
    assert frame(b"[18446744073709551615, 18446744073709551616, -9223372036854775809]") == [
        [18446744073709551615, 18446744073709551616.0, -9223372036854775809.0]
    ]
    assert frame(b"[1e400, -0, -0.0]") == [[float("inf"), 0, -0.0]]


def test_duplicate_member() -> None:
    assert frame(b'{"a": 1, "b": {"c": 1, "c": 2}}') == [parse_err("duplicate key")]
    assert frame(b'{"a:": 1, "a": 2}') == [{"a:": 1, "a": 2}]


def test_noncharacters_are_refused() -> None:
    assert frame(b'{"a": "\xef\xbf\xbf"}') == [parse_err("invalid UTF-8 sequence in string")]
    assert frame(b'"\xf0\x9f\xbf\xbe"') == [parse_err("invalid UTF-8 sequence in string")]


# -- errors and recovery --------------------------------------------------------------------


def test_stray_bytes() -> None:
    assert frame(b"@") == [parse_err("stray '@'")]
    assert frame(b"\x00") == [parse_err("stray ''")]
    assert frame(b'"ab\x00') == [parse_err("stray '\"ab'")]
    assert frame(b"\xff") == [parse_err("stray '\ufffd'")]
    assert frame(b"-x") == [parse_err("stray '-x'")]
    assert frame(b"01") == [parse_err("stray '01'")]


def test_recovery_skips_to_a_structural_byte() -> None:
    assert frame(b'@ "skipped" 12 {"a": 1}') == [parse_err("stray '@'"), {"a": 1}]
    assert frame(b"@ skipped\tstill\n1 ") == [parse_err("stray '@'"), 1]


def test_0xff_resets_a_message_in_progress() -> None:
    items = frame(b'{"execute": \xff{"execute": "x"}')
    assert items == [parse_err("stray '\ufffd'"), {"execute": "x"}]


def test_an_error_drops_the_message_in_progress() -> None:
    # What follows the error is lexed afresh: the closers and separators are errors of
    # their own, and "b" and 2 are messages.
    assert frame(b'{"a": [1, @], "b": 2}') == [
        parse_err("stray '@'"),
        parse_err("expecting value"),
        parse_err("expecting value"),
        "b",
        parse_err("expecting value"),
        2,
        parse_err("expecting value"),
    ]


def test_long_stray_token_is_quoted_whole() -> None:
    (item,) = frame(b'"' + b"a" * 5000 + b"\x01")
    assert isinstance(item, FrameError)
    assert item.desc == "JSON parse error, stray '\"" + "a" * 5000 + "\x01'"


def test_parser_messages_are_cut_at_1023_bytes() -> None:
    (item,) = frame(b"x" * 3000 + b" ")
    assert isinstance(item, FrameError)
    assert item.desc == "JSON parse error, " + ("invalid keyword '" + "x" * 3000)[:1023]


# -- limits ---------------------------------------------------------------------------------


def _depth(value: object) -> int:
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    return depth


def test_nesting_limit() -> None:
    (item,) = frame(b"[" * 1024 + b"]" * 1024)
    assert _depth(item) == 1024
    items = frame(b"[" * 1025 + b"]" * 1025)
    assert items[0] == err(NESTING_EXCEEDED)
    # The 1025th '[' is refused and every ']' is then a lone closer.
    assert items[1:] == [parse_err("expecting value")] * 1025
    items = frame(b"[" * 2000 + b"]" * 2000)
    assert items[0] == err(NESTING_EXCEEDED)
    assert _depth(items[1]) == 2000 - 1025
    assert items[2:] == [parse_err("expecting value")] * 1025


def test_token_size_limit_in_one_token() -> None:
    items = frame(b'"' + b"a" * 70 + b'"\n', SMALL)
    # 65 bytes is one past the limit: the rest lexes afresh ('aaaaaa' then a string '"\n').
    assert items == [
        err(TOKEN_SIZE_EXCEEDED),
        parse_err("invalid keyword 'aaaaaa'"),
        parse_err("stray '\"\n'"),
    ]


def test_token_size_limit_in_one_message() -> None:
    items = frame(b"[" + b'"' + b"a" * 30 + b'",' + b'"' + b"b" * 30 + b'"]', SMALL)
    assert items[0] == err(TOKEN_SIZE_EXCEEDED)


def test_token_count_limit() -> None:
    items = frame(b"[" + b"1," * 6 + b"1]", SMALL)  # 15 tokens: fits
    assert items == [[1] * 7]
    items = frame(b"[" + b"1," * 7 + b"1]", SMALL)  # 17 tokens: the last is refused
    assert items[0] == err(TOKEN_COUNT_EXCEEDED)


def test_qemus_token_size_limit() -> None:
    # As QEMU 7.2 answered (checked by test_protocol_vs_qemu.py, PYQMP_SLOW_TESTS=1).
    items = frame(b'{"execute": "' + b"a" * ((64 << 20) + 10) + b'"}\n')
    assert items == [
        err(TOKEN_SIZE_EXCEEDED),
        parse_err("invalid keyword 'aaaaaaaaaa'"),
        parse_err("stray '\"}\n'"),
    ]


def test_qemus_token_count_limit() -> None:
    # 2**21 + 1 tokens: the closing bracket is one too many (the boundary itself is
    # tested under small limits above).
    assert frame(b"[" + b"1," * ((1 << 20) - 1) + b"1]\n") == [err(TOKEN_COUNT_EXCEEDED)]


def test_message_of_100_mib_without_end_is_not_kept() -> None:
    streamer = JSONStreamer()
    items = streamer.feed(b'{"execute": "')
    chunk = b"X" * (1 << 20)
    largest = 0
    for _ in range(100):
        items += streamer.feed(chunk)
        largest = max(largest, streamer.buffered)
    assert largest <= DEFAULT_LIMITS.max_token_size + 64
    assert items == [err(TOKEN_SIZE_EXCEEDED), parse_err("stray 'X'")]
    assert streamer.buffered == 0


def test_whitespace_is_not_kept() -> None:
    streamer = JSONStreamer(SMALL)
    streamer.feed(b"[1")
    for _ in range(100):
        streamer.feed(b" " * 1000)
    assert streamer.buffered <= SMALL.buffer_bound()
    assert streamer.feed(b"]") == [[1]]


# -- properties ---------------------------------------------------------------------------

# Text a client may send: QEMU refuses surrogates and noncharacters (tested above).
texts = st.text(
    st.characters(exclude_categories=("Cs",)).filter(
        lambda char: not (0xFDD0 <= ord(char) <= 0xFDEF or ord(char) & 0xFFFE == 0xFFFE)
    ),
    max_size=20,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(texts, children, max_size=5),
    max_leaves=20,
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, previous = [], 0
    for point in points:
        pieces.append(data[previous:point])
        previous = point
    pieces.append(data[previous:])
    return pieces


def _as_qemu_reads(value: object) -> object:
    # Integers beyond 64 bits become doubles.
    if isinstance(value, dict):
        return {key: _as_qemu_reads(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_qemu_reads(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not (-(2**63) <= value < 2**64):
        return float(value)
    return value


def _spellings(value: object, style: int) -> bytes:
    if style == 0:
        return json.dumps(value).encode()
    if style == 1:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return json.dumps(value, indent=1).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.dictionaries(texts, json_values, max_size=4),
            st.integers(0, 2),
            st.sampled_from([b"", b"\n", b" ", b"\r\n", b"\t"]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.integers(0, 10_000), max_size=8),
)
def test_any_split_of_valid_messages_gives_the_messages(
    messages: list[tuple[dict[str, object], int, bytes]], cuts: list[int]
) -> None:
    data = b"".join(_spellings(value, style) + separator for value, style, separator in messages)
    expected = [_as_qemu_reads(value) for value, _, _ in messages]
    assert frame(data) == expected
    assert frame_chunks(_split(data, cuts)) == expected


tricky_bytes = st.lists(
    st.sampled_from(
        [
            b"{",
            b"}",
            b"[",
            b"]",
            b":",
            b",",
            b'"',
            b"'",
            b"\\",
            b"u",
            b"00e9",
            b"d83d",
            b"\\u",
            b"1",
            b"0",
            b"-",
            b".",
            b"e",
            b"+",
            b"true",
            b"nul",
            b"x",
            b" ",
            b"\n",
            b"\t",
            b"\x00",
            b"\x01",
            b"\xff",
            b"\xfe",
            b"\xc3\xa9",
            b"\xc0\x80",
            b"\xc0",
            b"\xef\xbf\xbf",
            b'"execute"',
            b'"id"',
            b"'a'",
            b"\x7f",
        ]
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(tricky_bytes | st.binary(max_size=200), st.lists(st.integers(0, 1000), max_size=6))
def test_same_items_as_the_oracle_for_any_bytes_and_split(data: bytes, cuts: list[int]) -> None:
    for limits in (DEFAULT_LIMITS, SMALL):
        expected = OracleStreamer(limits).feed(data)
        assert frame(data, limits) == expected
        assert frame_chunks(_split(data, cuts), limits) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=100) | tricky_bytes, max_size=20))
def test_random_bytes_give_items_and_stay_within_limits(chunks: list[bytes]) -> None:
    streamer = JSONStreamer(SMALL)
    for chunk in chunks:
        for item in streamer.feed(chunk):
            assert (
                isinstance(item, FrameError)
                or item is None
                or isinstance(item, dict | list | str | int | float)
            )
        assert streamer.buffered <= SMALL.buffer_bound()


def test_oracle_agrees_on_long_random_streams() -> None:
    rng = random.Random(1)
    alphabet = b"{}[]:,\"'\\u0123456789abcdefnrtu-+.eE \n\t\x00\x01\xff\xc3\xa9"
    for _ in range(30):
        data = bytes(rng.choice(alphabet) for _ in range(2000))
        expected = OracleStreamer(SMALL).feed(data)
        assert frame(data, SMALL) == expected
        chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
        assert frame_chunks(chunks, SMALL) == expected


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": [1, 2, {"b": null}]}',
        b"{'a': 'b'}",
        b'{"a": "\\u0041"}',
        b'[{"a": 1}]',
        b'{"a": 1, "a": 2}',
        b'{"a": "x:y", "b": "\xc3\xa9"}',
    ],
)
def test_fast_and_exact_paths_agree(data: bytes) -> None:
    fast = frame(data)
    exact = OracleStreamer().feed(data + b" ")
    assert fast == exact
