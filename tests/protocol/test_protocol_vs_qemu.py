"""The engine against the real QEMU 7.2, side by side, over the same tricky bytes.

Each case is sent to ``qemu-system-x86_64`` over a raw unix socket and to
:class:`~pyqmp.protocol.ServerConnection`; the two must send the same messages, byte for
byte (the greeting included: the engine is given QEMU's own version).  The one
exception is the result of a command the fake registry runs (``query-status``), which
orjson spaces differently: those results are compared as each side spells them.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from protocol_qemu_harness import engine_exchange, qemu_exchange, qemu_qmp_socket

NEG = b'{"execute": "qmp_capabilities"}\n'
NEG_OOB = b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}\n'


def _caps(arguments: str) -> bytes:
    return b'{"execute": "qmp_capabilities", "arguments": ' + arguments.encode() + b', "id": 1}\n'


def _id(id_text: bytes) -> bytes:
    return b'{"execute": "query-status", "id": ' + id_text + b"}\n"


def _unexpected_arguments_cases() -> list[tuple[str, list[bytes]]]:
    # Several unexpected members: QEMU names the one its GLib hash table yields first.
    rng = random.Random(7)
    words = ["foo", "bar", "baz", "qux", "a", "b", "zz", "enable", "x-y", "k1", "k2", "long-name"]
    words += [f"m{number}-é" for number in range(20)]
    cases = []
    for number in range(16):
        keys = rng.sample(words, rng.randint(2, 30))
        members = ", ".join(
            f'"{key}": ["oob"]' if key == "enable" else f'"{key}": {index}'
            for index, key in enumerate(keys)
        )
        cases.append((f"unexpected-args-{number}", [_caps("{" + members + "}")]))
    return cases


CASES: list[tuple[str, list[bytes]]] = [
    # -- negotiation ---------------------------------------------------------------------
    ("negotiate", [NEG]),
    ("negotiate-oob", [NEG_OOB]),
    ("negotiate-twice", [NEG, NEG]),
    ("negotiate-twice-with-id", [NEG, b'{"execute": "qmp_capabilities", "id": 5}\n']),
    ("command-before-negotiation", [b'{"execute": "query-status", "id": "q"}\n']),
    ("unknown-command-before-negotiation", [b'{"execute": "no-such-command", "id": 2}\n']),
    ("unknown-capability", [_caps('{"enable": ["foo"]}')]),
    ("capabilities-not-a-list", [_caps('{"enable": "oob"}')]),
    ("capabilities-null", [_caps('{"enable": null}')]),
    ("capability-not-a-string", [_caps('{"enable": [1]}')]),
    ("capability-second-unknown", [_caps('{"enable": ["oob", "x", "y"]}')]),
    ("capabilities-empty", [_caps('{"enable": []}')]),
    ("capability-twice", [_caps('{"enable": ["oob", "oob"]}')]),
    ("capabilities-unexpected-argument", [_caps('{"foo": 1}')]),
    ("capabilities-bad-then-unexpected", [_caps('{"foo": 1, "enable": "x"}')]),
    ("capabilities-arguments-not-object", [b'{"execute": "qmp_capabilities", "arguments": []}\n']),
    ("capabilities-bad-args-after-negotiation", [NEG, _caps('{"enable": ["bad"]}')]),
    ("capabilities-after-negotiation-with-args", [NEG, _caps('{"foo": 1}')]),
    *_unexpected_arguments_cases(),
    # -- malformed JSON ------------------------------------------------------------------
    ("missing-value", [b'{"execute": }\n']),
    ("missing-colon", [b'{"execute" "x"}\n']),
    ("trailing-comma", [b'{"execute": "x",}\n']),
    ("list-without-separator", [NEG, b"[1 2]\n"]),
    ("key-not-string", [b"{1: 2}\n"]),
    ("key-without-value", [b'{"a"}\n']),
    ("lone-closers-and-separators", [b"} ] : ,\n"]),
    ("mismatched-close", [b'{"a": 1]\n[}\n[{]}\n']),
    ("duplicate-key", [b'{"execute": "query-status", "execute": "x"}\n']),
    ("duplicate-key-after-bad-value", [b'{"a": 1, "a": "\\x"}\n']),
    ("bad-keywords", [b"truex nul TRUE\n"]),
    ("bad-numbers", [b"01 1. 1.e5 - -a 0e5 1e 1e+ 1E5x -0-1\n"]),
    ("scalars", [NEG, b'"str" 1 2.5 -0 true false null\n']),
    ("keyword-cut-by-digit", [b"tru1 e5\n"]),
    # -- bytes the lexer refuses -----------------------------------------------------------
    (
        "invalid-utf8-in-strings",
        [
            b'{"execute": "\xc0\xaf"}\n',
            b'{"execute": "\xe9x"}\n',
            b'{"execute": "\xed\xa0\x80"}\n',
            b'{"execute": "\xef\xbf\xbf"}\n',
            b'{"execute": "\xf4\x90\x80\x80"}\n',
            b'{"execute": "\xf8\x88\x80\x80\x80"}\n',
            b'{"execute": "\x80"}\n',
            b'{"execute": "\xe2\x82"}\n',
            b'{"execute": "\xef\xb7\x90"}\n',
        ],
    ),
    ("modified-utf8-nul", [b'{"execute": "a\xc0\x80b", "id": 1}\n']),
    ("valid-utf8-command-name", [NEG, b'{"execute": "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}\n']),
    ("impossible-bytes-in-strings", [b'{"execute": "\xfe"}\n', b'{"execute": "a\xff"}\n']),
    ("non-ascii-outside-strings", [b'\xc3\xa9 \xc0 \xc1 \xf5 \x80 {"execute":\xc0 "a"}\n']),
    ("nul-bytes", [b"\x00", b'{"execute": "a\x00b"}\n', b'{"execute"\x00: 1}\n']),
    ("control-bytes", [b'\x01\x1f{"execute": "a\x01"}\n\x7f\n']),
    ("form-feed-and-vertical-tab", [b'{\x0c"execute": "x"}\n\x0b\n']),
    ("0xff-resets-mid-message", [b'{"execute": "query-status", \xff{"execute": "x"}\n']),
    ("0xff-in-recovery", [b'@@@\xff{"execute": "x"}\n']),
    ("tab-does-not-end-recovery", [b'@\t{"execute": "x"}\n']),
    ("stray-with-long-token", [b'"' + b"a" * 3000 + b"\x01\n"]),
    # -- strings -------------------------------------------------------------------------
    ("single-quoted", [b"{'execute': 'qmp_capabilities', 'id': 'it\\'s \"q\"'}\n"]),
    (
        "single-quoted-args",
        [
            NEG,
            b"{'execute': 'query-status', 'arguments': {}, 'id': ['a', \"b\"]}\n",
        ],
    ),
    (
        "escapes",
        [
            b'{"execute": "qmp_capabilities", "id": '
            b'"a\\\'b\\u00e9\\ud83d\\ude00\\u007f/\\/\\b\\f\\n\\r\\t"}\n'
        ],
    ),
    ("escape-nul", [NEG, b'{"execute": "a\\u0000b", "id": "\\u0000"}\n']),
    (
        "bad-escapes",
        [
            b'{"execute": "\\x"}\n',
            b'{"execute": "\\ud83d"}\n',
            b'{"execute": "\\udc00"}\n',
            b'{"execute": "\\ud83dx"}\n',
            b'{"execute": "\\ud83d\\u0041"}\n',
            b'{"execute": "\\uffff"}\n',
            b'{"execute": "\\ufdd0"}\n',
            b'{"execute": "\\u12"}\n',
            b'{"execute": "\\u12G4"}\n',
            b'{"execute": "\\udbff\\udfff"}\n',
            b'{"execute": "\\u12\xc3\xa9"}\n',
            b'{"execute": "\\\xc3\xa9"}\n',
        ],
    ),
    ("control-in-single-quoted", [b"{'execute': 'a\x01'}\n"]),
    ("long-invalid-keyword", [b"x" * 2000 + b"\n"]),
    # -- nesting ---------------------------------------------------------------------------
    ("nesting-2000", [NEG, b"[" * 2000 + b"]" * 2000 + b"\n"]),
    ("nesting-1024", [NEG, b"[" * 1024 + b"]" * 1024 + b"\n"]),
    ("nesting-1025-objects", [NEG, b'{"a": ' * 1025 + b"1" + b"}" * 1025 + b"\n"]),
    ("deep-id", [NEG, b'{"execute": "query-status", "id": ' + b"[" * 1000 + b"]" * 1000 + b"}\n"]),
    # -- numbers ---------------------------------------------------------------------------
    ("id-beyond-64-bits", [NEG, _id(b"123456789012345678901234567890")]),
    (
        "id-int64-edges",
        [
            NEG,
            _id(b"9223372036854775807"),
            _id(b"9223372036854775808"),
            _id(b"-9223372036854775808"),
            _id(b"-9223372036854775809"),
            _id(b"18446744073709551615"),
            _id(b"18446744073709551616"),
        ],
    ),
    (
        "id-floats",
        [
            NEG,
            _id(b"0.1"),
            _id(b"1.0"),
            _id(b"-0"),
            _id(b"-0.0"),
            _id(b"1e400"),
            _id(b"-1e400"),
            _id(b"1e-400"),
            _id(b"2.5E+3"),
            _id(b"1e22"),
            _id(b"5e-324"),
        ],
    ),
    # -- request shape ---------------------------------------------------------------------
    ("top-level-array", [NEG, b'[{"execute": "query-status"}]\n']),
    (
        "ids-of-each-type",
        [NEG]
        + [
            _id(value)
            for value in (
                b"null",
                b"true",
                b"false",
                b"0",
                b"-1",
                b"1.5",
                b'"s"',
                b'"\xc3\xa9\\u20ac"',
                b"[]",
                b"{}",
                b'[1, "a", null, {"k": [true]}]',
                b'{"b": 1, "a": 2, "execute": 3, "id": 4}',
            )
        ],
    ),
    ("unknown-top-level-key", [NEG, b'{"execute": "query-status", "foo": 1, "id": 1}\n']),
    ("control-key", [NEG, b'{"control": 1, "execute": "query-status"}\n']),
    (
        "several-bad-members",
        [
            NEG,
            b'{"foo": 1, "bar": 2, "execute": "x"}\n',
            b'{"bar": 1, "foo": 2, "execute": "x"}\n',
            b'{"id": 1, "zzz": 1, "execute": 5}\n',
            b'{"execute": 5, "arguments": 1}\n',
            b'{"arguments": 1, "execute": 5}\n',
        ],
    ),
    ("missing-execute", [NEG, b'{"arguments": {}, "id": "s"}\n', b"{}\n"]),
    (
        "arguments-not-object",
        [
            NEG,
            b'{"execute": "query-status", "arguments": [], "id": false}\n',
            b'{"execute": "query-status", "arguments": null, "id": null}\n',
            b'{"execute": "query-status", "arguments": "x"}\n',
        ],
    ),
    (
        "execute-not-string",
        [
            NEG,
            b'{"execute": 1, "id": true}\n',
            b'{"execute": null}\n',
            b'{"execute": ["query-status"]}\n',
        ],
    ),
    ("unknown-command", [NEG, b'{"execute": "no-such-command", "id": 1}\n']),
    (
        "query-status",
        [
            NEG,
            b'{"execute": "query-status", "id": 1}\n',
            b'{"execute": "query-status", "arguments": {}}\n',
        ],
    ),
    # -- out of band -----------------------------------------------------------------------
    ("exec-oob-before-negotiation", [b'{"exec-oob": "qmp_capabilities", "id": 7}\n']),
    (
        "exec-oob-without-oob",
        [NEG, b'{"exec-oob": "query-status", "id": 7}\n', b'{"exec-oob": "query-yank", "id": 8}\n'],
    ),
    # QEMU answers exec-oob in its I/O thread as it reads, in-band requests later in the
    # main loop: a case mixing both would race, so each case has one kind only.
    (
        "exec-oob-with-oob",
        [
            NEG_OOB,
            b'{"exec-oob": "query-yank", "id": 1}\n',
            b'{"exec-oob": "query-status", "id": 2}\n',
            b'{"exec-oob": "nope", "id": 3}\n',
            b'{"exec-oob": 5, "id": 4}\n',
            b'{"exec-oob": "qmp_capabilities", "id": 5}\n',
            b'{"exec-oob": "query-yank", "arguments": [], "id": 9}\n',
        ],
    ),
    (
        "in-band-with-oob",
        [
            NEG_OOB,
            b'{"execute": "query-status", "id": 6}\n',
            b'{"execute": "a", "exec-oob": "b", "id": 7}\n',
            b'{"exec-oob": "b", "execute": "a", "id": 8}\n',
            b'{"execute": "query-yank"}\n',
        ],
    ),
    # -- framing ---------------------------------------------------------------------------
    (
        "many-per-chunk",
        [
            NEG + b'{"execute":"query-status","id":1}{"execute":"query-status","id":2}'
            b' {"execute": "query-yank"}\r\n{"execute":"nope"}'
        ],
    ),
    (
        "split-byte-by-byte",
        [bytes([byte]) for byte in NEG + b"{'execute': 'query-status', 'id': [1, \"\\u00e9\"]}\n"],
    ),
    ("whitespace-between", [b"  \t\r\n\n" + NEG + b"\r\n\r\n  \t"]),
    ("unterminated-at-end", [NEG, b'{"execute": "query-status"']),
    ("unterminated-string-at-end", [NEG, b'{"execute": "query-sta']),
    ("number-at-end", [NEG, b"12345"]),
]


@pytest.fixture(scope="module")
def qemu_socket(qemu_binary: Path) -> Iterator[str]:
    with qemu_qmp_socket(qemu_binary) as path:
        yield path


def _version(greeting: bytes) -> dict[str, object]:
    # In the order QEMU's visitor inserts the members (the schema's), as a server would
    # build it: the greeting then lists them in QEMU's QDict order.
    version = json.loads(greeting)["QMP"]["version"]
    triple = version["qemu"]
    return {
        "qemu": {"major": triple["major"], "minor": triple["minor"], "micro": triple["micro"]},
        "package": version["package"],
    }


# The fake commands' results, as QEMU writes them and as the engine (orjson) does.
RESULT_SPELLINGS = [
    (
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}',
        b'{"return": {"status":"prelaunch","singlestep":false,"running":false}',
    ),
    (
        b'{"return": [{"type": "chardev", "id": "compat_monitor0"}]',
        b'{"return": [{"type":"chardev","id":"compat_monitor0"}]',
    ),
]


def _same(qemu_line: bytes, engine_line: bytes) -> bool:
    for qemu_spelling, engine_spelling in RESULT_SPELLINGS:
        if qemu_line.startswith(qemu_spelling):
            qemu_line = engine_spelling + qemu_line[len(qemu_spelling) :]
    return qemu_line == engine_line


@pytest.mark.parametrize("chunks", [case[1] for case in CASES], ids=[case[0] for case in CASES])
def test_same_bytes_as_qemu(qemu_socket: str, chunks: list[bytes]) -> None:
    qemu_lines = qemu_exchange(qemu_socket, chunks)
    engine_lines = engine_exchange(_version(qemu_lines[0]), chunks)
    assert len(engine_lines) == len(qemu_lines), (qemu_lines, engine_lines)
    for qemu_line, engine_line in zip(qemu_lines, engine_lines, strict=True):
        assert _same(qemu_line, engine_line), (qemu_line, engine_line)


# QEMU reads its monitor one byte per main-loop turn (monitor_can_read() says 1): 64 MiB
# take it minutes, 4 MiB seconds.  The engine's side of both is in test_protocol_framing.py.
slow = pytest.mark.skipif(
    not os.environ.get("PYQMP_SLOW_TESTS"), reason="minutes against QEMU; set PYQMP_SLOW_TESTS=1"
)


@slow
def test_token_size_limit_as_qemu(qemu_socket: str) -> None:
    # A string one byte past 64 MiB: QEMU drops it and lexes the rest afresh.
    chunks = [NEG, b'{"execute": "' + b"a" * ((64 << 20) + 10) + b'"}\n']
    qemu_lines = qemu_exchange(qemu_socket, chunks)
    engine_lines = engine_exchange(_version(qemu_lines[0]), chunks)
    assert qemu_lines == engine_lines


@slow
def test_token_count_limit_as_qemu(qemu_socket: str) -> None:
    # 2**21 tokens fit; the closing bracket is one too many.
    chunks = [NEG, b"[" + b"1," * ((1 << 20) - 1) + b"1]\n"]
    qemu_lines = qemu_exchange(qemu_socket, chunks)
    engine_lines = engine_exchange(_version(qemu_lines[0]), chunks)
    assert qemu_lines == engine_lines
    assert b"JSON token count limit exceeded" in qemu_lines[2]
