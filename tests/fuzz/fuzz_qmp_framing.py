"""Fuzz target for the QMP protocol engine: any bytes, as what a client sends.

Run it with atheris (``pip install atheris``)::

    python tests/fuzz/fuzz_qmp_framing.py [CORPUS_DIR ...] [libFuzzer options]

Each input goes through :class:`pyqmp.protocol.JSONStreamer` whole, in two pieces and in
small chunks (the items must not depend on the chunking), through the byte-at-a-time
oracle model of QEMU's lexer (the items must be the same), under small limits (the
buffer must stay within them), and through a negotiated
:class:`pyqmp.protocol.ServerConnection` (every byte it sends must be an ASCII line
ending in CRLF, and nothing may raise).  Without atheris the script runs the files
named on the command line once each (to reproduce a crash), or else the seed corpus.

``tests/protocol/test_protocol_fuzz_smoke.py`` runs :func:`check_one_input` under pytest.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

_HERE = Path(__file__).resolve().parent
# The oracle lives with the protocol tests.
sys.path.insert(0, str(_HERE.parent / "protocol"))

SEED_CORPUS: list[bytes] = [
    b"",
    b'{"execute": "qmp_capabilities"}\n',
    b'{"execute": "query-status", "id": 1}{"execute":"query-status","id":2}',
    b"{'execute': 'query-status', 'id': 'it\\'s'}\n",
    b'{"execute": "x", "arguments": {"a": [1, 2.5e3, -0, true, null, "\\u00e9"]}}\n',
    b'{"exec-oob": "query-yank", "id": "o"}\n',
    b'{"execute": "a", "exec-oob": "b", "control": 1}\n',
    b'{"execute": }\n',
    b'{"a": 1, "a": 2}',
    b"[1 2] {1:2} {,} ] } : ,",
    b"\x00\x01\x1f\x7f\xfe\xff",
    b'"\xc0\x80\xc0\xaf\xed\xa0\x80\xef\xbf\xbf\xf4\x90\x80\x80"',
    b'"\\ud83d\\ude00\\ud83d\\udc00x\\u12\\uG"',
    b"01 1. 1e 1e+ - -a 0e5 truex nul",
    b"123456789012345678901234567890 1e400 18446744073709551616",
    b"[" * 1100 + b"]" * 1100,
    b'{"a": ' * 40 + b"1" + b"}" * 40,
    b'"' + b"a" * 300 + b"\x01",
    b"x" * 2000 + b" ",
    b'@@@\xff{"execute": "x"}\t@\n',
    b'{"execute": "query-status"' + b" " * 500 + b"}",
]

if TYPE_CHECKING:
    from pyqmp.protocol import Limits


def _small_limits() -> Limits:
    # Imported late: under atheris, pyqmp must be imported instrumented, in main().
    from pyqmp.protocol import Limits

    return Limits(max_token_size=100, max_token_count=40, max_nesting=8)


def canonical(items: list[object]) -> list[str]:
    """Items as comparable text, without recursion (values nest 1024 deep): every scalar
    tagged with its type, so that 1 and 1.0 differ."""
    from pyqmp.protocol import FrameError

    out: list[str] = []
    for item in items:
        if isinstance(item, FrameError):
            out.append("error:" + item.desc)
            continue
        parts: list[str] = []
        stack: list[object] = [item]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                parts.append(f"{{{len(node)}")
                for key, value in reversed(node.items()):
                    stack.append(value)
                    stack.append(("key", key))
            elif isinstance(node, list):
                parts.append(f"[{len(node)}")
                stack.extend(reversed(node))
            else:
                parts.append(f"{type(node).__name__}:{node!r}")
        out.append(" ".join(parts))
    return out


def check_one_input(data: bytes) -> int:
    """Run ``data`` through every check; return the number of items it framed into.

    Raises AssertionError on any disagreement; any other exception is a crash.
    """
    from protocol_lexer_oracle import OracleStreamer

    from pyqmp.protocol import (
        CONNECTION_CLOSED,
        NEED_DATA,
        PAUSED,
        CommandRequest,
        JSONStreamer,
        ServerConnection,
    )

    items = canonical(JSONStreamer().feed(data))
    half = len(data) // 2
    streamer = JSONStreamer()
    assert canonical(streamer.feed(data[:half]) + streamer.feed(data[half:])) == items
    streamer = JSONStreamer()
    chunked: list[object] = []
    for start in range(0, len(data), 7):
        chunked += streamer.feed(data[start : start + 7])
    assert canonical(chunked) == items
    if len(data) <= 4096:
        assert canonical(OracleStreamer().feed(data)) == items

    small = _small_limits()
    streamer = JSONStreamer(small)
    small_items: list[object] = []
    for start in range(0, len(data), 13):
        small_items += streamer.feed(data[start : start + 13])
        assert streamer.buffered <= small.buffer_bound()
    if len(data) <= 4096:
        assert canonical(OracleStreamer(small).feed(data)) == canonical(small_items)

    for prefix in (b"", b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}'):
        connection = ServerConnection(
            {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""},
            command_exists=lambda name: not name.startswith("x"),
            allows_oob=lambda name: name.startswith("o"),
        )
        wire = bytearray(connection.greeting())
        connection.receive_data(prefix + data)
        connection.receive_data(b"")
        while True:
            event = connection.next_event()
            wire += connection.data_to_send()
            if event is CONNECTION_CLOSED:
                break
            assert event is not NEED_DATA and event is not PAUSED
            assert isinstance(event, CommandRequest)
            wire += connection.reply_return(event, {"echo": event.arguments})
        assert wire.isascii()
        assert wire.endswith(b"\r\n")
        assert all(line for line in bytes(wire).split(b"\r\n")[:-1])
        assert b"\n" not in wire.replace(b"\r\n", b"")
    return len(items)


def main(argv: list[str]) -> int:
    from fuzz_runner import run_fuzz_target

    return run_fuzz_target(
        argv, check_one_input, "pyqmp.protocol", SEED_CORPUS, lambda count: f"{count} items"
    )


if __name__ == "__main__":
    try:
        import pyqmp  # noqa: F401
    except ImportError:  # run from a checkout without installing: use its src/
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    raise SystemExit(main(sys.argv))
