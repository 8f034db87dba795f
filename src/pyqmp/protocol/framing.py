"""Splitting a QMP byte stream into JSON values, exactly as QEMU's lexer and streamer do.

This module owns the byte level of QMP input: where one message ends and the next
begins, and what QEMU says about bytes that are not JSON.  :class:`JSONStreamer` takes
the stream in chunks of any size (a message may span many chunks, or a chunk hold many
messages) and hands back, per chunk, the complete items: a parsed JSON value, or a
:class:`FrameError` carrying the error QEMU would answer with.  Its rules are those of
``qobject/json-lexer.c`` and ``json-streamer.c``: a message ends when its braces and
brackets balance (a lone scalar is a message of its own); strings may be single-quoted;
a byte the lexer cannot take makes a ``stray`` error, after which input is skipped up
to the next structural character or control byte (0xFF forces that); a token, a
message or the nesting depth past its :class:`~pyqmp.protocol.limits.Limits` makes an
error and the message is dropped, so nothing is ever buffered past the limits.

Two paths give the same items.  The fast one takes a chunk that starts cleanly with one
or more messages each ending at a newline or where the next ``{`` begins, and decodes
each with orjson, refusing anything on which QEMU's dialect differs (escapes, duplicate
members, noncharacters, nesting).  Whatever it refuses goes through the exact path: a
lexer state machine over the bytes (runs of ordinary bytes matched by regular
expressions), the streamer's counting, and :func:`~pyqmp.protocol.qemu_json.parse_message`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, TypeAlias

import orjson

from .limits import DEFAULT_LIMITS, Limits
from .qemu_json import NONCHARACTER_UTF8, JSONParseError, JSONValue, parse_message, qemu_text


class FrameError:
    """An input error at the JSON level: ``desc`` is QEMU's message for it.

    QEMU answers each with ``{"error": {"class": "GenericError", "desc": ...}}`` and
    no ``id`` (the request never got as far as having one).
    """

    __slots__ = ("desc",)

    def __init__(self, desc: str) -> None:
        self.desc = desc

    def __repr__(self) -> str:
        return f"FrameError({self.desc!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FrameError) and other.desc == self.desc

    def __hash__(self) -> int:
        return hash(self.desc)


FrameItem: TypeAlias = "JSONValue | FrameError"

TOKEN_SIZE_EXCEEDED: Final = "JSON token size limit exceeded"
TOKEN_COUNT_EXCEEDED: Final = "JSON token count limit exceeded"
NESTING_EXCEEDED: Final = "JSON nesting depth limit exceeded"

# -- the lexer's states and tokens -----------------------------------------------------

# States (QEMU's IN_* names): START between tokens, RECOVERY after an error, the rest
# inside a token.
_START, _RECOVERY, _DQ, _DQ_ESC, _SQ, _SQ_ESC = 0, 1, 2, 3, 4, 5
_ZERO, _SIGN, _DIGITS, _MANTISSA, _MANTISSA_DIGITS = 6, 7, 8, 9, 10
_EXP_E, _EXP_SIGN, _EXP_DIGITS, _KEYWORD = 11, 12, 13, 14
_STATE_COUNT = 15

# Tokens handed to the streamer.
_LCURLY, _RCURLY, _LSQUARE, _RSQUARE, _COLON, _COMMA = 0, 1, 2, 3, 4, 5
_INTEGER, _FLOAT, _WORD_KEYWORD, _STRING = 6, 7, 8, 9
_WORDS = (_INTEGER, _FLOAT, _WORD_KEYWORD)  # tokens that would run together unseparated

# Actions in the transition tables, per (state, byte):
#   0.._STATE_COUNT-1      take the byte, go to that state
#   _EMIT_BEFORE + token   the token ended before this byte: emit it, byte not taken
#   _EMIT_WITH + token     take the byte, which ends the token: emit it
_EMIT_BEFORE = 32
_EMIT_WITH = 64
_ERROR = 128  # take the byte; it makes the token so far a stray error
_RESYNC = 129  # (RECOVERY) back to START, byte not taken
_SKIP = 130  # (START) whitespace


def _table(default: int, ranges: dict[tuple[int, int], int]) -> list[int]:
    row = [default] * 256
    for (low, high), action in ranges.items():
        for byte in range(low, high + 1):
            row[byte] = action
    return row


def _byte(char: str) -> tuple[int, int]:
    return ord(char), ord(char)


def _build_actions() -> list[list[int]]:
    digits = (ord("0"), ord("9"))
    string_bytes = (0x20, 0xFD)
    rows = [[_ERROR] * 256 for _ in range(_STATE_COUNT)]
    rows[_START] = _table(
        _ERROR,
        {
            _byte('"'): _DQ,
            _byte("'"): _SQ,
            _byte("0"): _ZERO,
            (ord("1"), ord("9")): _DIGITS,
            _byte("-"): _SIGN,
            (ord("a"), ord("z")): _KEYWORD,
            _byte("{"): _EMIT_WITH + _LCURLY,
            _byte("}"): _EMIT_WITH + _RCURLY,
            _byte("["): _EMIT_WITH + _LSQUARE,
            _byte("]"): _EMIT_WITH + _RSQUARE,
            _byte(":"): _EMIT_WITH + _COLON,
            _byte(","): _EMIT_WITH + _COMMA,
            _byte(" "): _SKIP,
            _byte("\t"): _SKIP,
            _byte("\r"): _SKIP,
            _byte("\n"): _SKIP,
        },
    )
    rows[_RECOVERY] = _table(
        _RECOVERY,
        {
            (0x00, 0x1F): _RESYNC,
            (0xFE, 0xFF): _RESYNC,
            _byte("\t"): _RECOVERY,
            _byte("["): _RESYNC,
            _byte("]"): _RESYNC,
            _byte("{"): _RESYNC,
            _byte("}"): _RESYNC,
            _byte(":"): _RESYNC,
            _byte(","): _RESYNC,
        },
    )
    for string, escape, quote in ((_DQ, _DQ_ESC, '"'), (_SQ, _SQ_ESC, "'")):
        rows[escape] = _table(_ERROR, {string_bytes: string})
        rows[string] = _table(
            _ERROR,
            {
                string_bytes: string,
                _byte("\\"): escape,
                _byte(quote): _EMIT_WITH + _STRING,
            },
        )
    end_integer = _EMIT_BEFORE + _INTEGER
    end_float = _EMIT_BEFORE + _FLOAT
    rows[_ZERO] = _table(end_integer, {digits: _ERROR, _byte("."): _MANTISSA})
    rows[_SIGN] = _table(_ERROR, {_byte("0"): _ZERO, (ord("1"), ord("9")): _DIGITS})
    rows[_DIGITS] = _table(
        end_integer,
        {
            digits: _DIGITS,
            _byte("e"): _EXP_E,
            _byte("E"): _EXP_E,
            _byte("."): _MANTISSA,
        },
    )
    rows[_MANTISSA] = _table(_ERROR, {digits: _MANTISSA_DIGITS})
    rows[_MANTISSA_DIGITS] = _table(
        end_float,
        {
            digits: _MANTISSA_DIGITS,
            _byte("e"): _EXP_E,
            _byte("E"): _EXP_E,
        },
    )
    rows[_EXP_E] = _table(
        _ERROR,
        {
            _byte("-"): _EXP_SIGN,
            _byte("+"): _EXP_SIGN,
            digits: _EXP_DIGITS,
        },
    )
    rows[_EXP_SIGN] = _table(_ERROR, {digits: _EXP_DIGITS})
    rows[_EXP_DIGITS] = _table(end_float, {digits: _EXP_DIGITS})
    rows[_KEYWORD] = _table(_EMIT_BEFORE + _WORD_KEYWORD, {(ord("a"), ord("z")): _KEYWORD})
    return rows


_ACTIONS: Final = _build_actions()

# Runs of bytes that leave a state unchanged, taken in one regular-expression match
# (each pattern is starred, so it always matches, if only the empty string).
_STRING_RUN = rb"[^%s\\\x00-\x1f\xfe\xff]*(?:\\[\x20-\xfd][^%s\\\x00-\x1f\xfe\xff]*)*"
_RUNS: Final[list[re.Pattern[bytes] | None]] = [None] * _STATE_COUNT
_RUNS[_DQ] = re.compile(_STRING_RUN % (b'"', b'"'))
_RUNS[_SQ] = re.compile(_STRING_RUN % (b"'", b"'"))
_RUNS[_DIGITS] = _RUNS[_MANTISSA_DIGITS] = _RUNS[_EXP_DIGITS] = re.compile(rb"[0-9]*")
_RUNS[_KEYWORD] = re.compile(rb"[a-z]*")
_WHITESPACE_RUN: Final = re.compile(rb"[ \t\r\n]*")
_RECOVERY_RUN: Final = re.compile(rb"[^\x00-\x08\x0a-\x1f\xfe\xff\[\]{}:,]*")

_OPEN_BRACE = 0x7B
_CLOSE_BRACE = 0x7D
_WHITESPACE_BYTES = frozenset(b" \t\r\n")


class _Miss:
    """The fast path declined; the exact path decides."""


_MISS: Final = _Miss()


def _shape(value: object, max_depth: int) -> tuple[int, int] | None:
    """(members of all objects, colons inside all strings) of a decoded value, or None
    if it nests deeper than ``max_depth``."""
    members = 0
    colons = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return None
        items: Iterable[object]
        if type(node) is dict:
            members += len(node)
            for key in node:
                colons += key.count(":")
            items = node.values()
        elif type(node) is list:
            items = node
        else:
            continue
        for item in items:
            if type(item) is str:
                colons += item.count(":")
            elif type(item) is dict or type(item) is list:
                stack.append((item, depth + 1))
    return members, colons


def decode_fast(text: bytes, max_nesting: int) -> JSONValue | _Miss:
    """``text`` (one complete JSON text) decoded by orjson, or ``_MISS`` wherever QEMU
    might read it differently: escapes (``\\'``, lone surrogates, ``\\u0000``), duplicate
    members (orjson keeps the last, QEMU refuses), noncharacters, too deep a nesting.
    Numbers need no care: orjson, like QEMU, keeps 64-bit integers exact and rounds the
    rest to the nearest double."""
    if b"\\" in text:
        return _MISS
    try:
        value: JSONValue = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _MISS
    if not text.isascii() and NONCHARACTER_UTF8.search(text):
        return _MISS
    if type(value) is dict:
        # One brace, no bracket, a colon per member: flat, and no member was repeated.
        if (
            text.count(b":") == len(value)
            and text.count(b"{") == 1
            and b"[" not in text
            and max_nesting >= 1
        ):
            return value
    elif type(value) is not list:
        return value
    shape = _shape(value, max_nesting)
    if shape is None:
        return _MISS
    members, string_colons = shape
    # Each member has one structural colon; with no escapes, every other colon is in a
    # string.  Fewer members than structural colons means one was repeated.
    if text.count(b":") - string_colons != members:
        return _MISS
    return value


def decode_message(text: bytes, max_nesting: int) -> FrameItem:
    """A framed message's value, or the parse error QEMU reports for it."""
    value = decode_fast(text, max_nesting)
    if not isinstance(value, _Miss):
        return value
    try:
        return parse_message(text)
    except JSONParseError as error:
        return FrameError(error.desc)


class JSONStreamer:
    """QEMU's ``JSONMessageParser``: bytes in, complete JSON values and errors out."""

    __slots__ = (
        "_brace_count",
        "_bracket_count",
        "_items",
        "_limits",
        "_message",
        "_prefix",
        "_previous_word",
        "_state",
        "_token_count",
        "_token_size",
    )

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._state = _START
        # The tokens of the message being collected, one space between two words.
        self._message = bytearray()
        self._previous_word = False
        # The bytes of the token being lexed that came in earlier chunks.
        self._prefix = bytearray()
        self._brace_count = 0
        self._bracket_count = 0
        self._token_count = 0
        self._token_size = 0
        self._items: list[FrameItem] = []

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def buffered(self) -> int:
        """Bytes held between chunks: the message so far and the token in progress."""
        return len(self._message) + len(self._prefix)

    @property
    def idle(self) -> bool:
        """True between messages: nothing held, the next byte starts afresh."""
        return self._state == _START and self._token_count == 0

    def feed(self, data: bytes) -> list[FrameItem]:
        """Take the next chunk of the stream; return the items it completed, in order."""
        items: list[FrameItem] = []
        self._items = items
        size = len(data)
        position = 0
        while position < size:
            if self._state == _START and self._token_count == 0:
                position, stop = self._feed_fast(data, position)
                if position >= size:
                    break
            else:
                stop = position + 1
            position = self._feed_exact(data, position, stop)
        return items

    # -- the fast path ------------------------------------------------------------------

    def _feed_fast(self, data: bytes, position: int) -> tuple[int, int]:
        """Decode whole messages from ``position`` while orjson can; return where it
        stopped and how far the exact path must go before trying again."""
        size = len(data)
        items = self._items
        limits = self._limits
        # A segment this long might break a token or message limit: exact path.
        longest = min(limits.max_token_size, limits.max_token_count) - 1
        while True:
            while position < size and data[position] in _WHITESPACE_BYTES:
                position += 1
            if position >= size:
                return position, position
            if data[position] != _OPEN_BRACE:
                return position, position + 1
            end = data.find(b"\n", position)
            if end < 0:
                end = size
            joint = data.find(b"}{", position, end)
            if joint >= 0:
                end = joint + 1
            last = end - 1
            while data[last] in _WHITESPACE_BYTES:
                last -= 1
            if data[last] != _CLOSE_BRACE or end - position > longest:
                return position, end
            value = decode_fast(data[position:end], limits.max_nesting)
            if isinstance(value, _Miss):
                return position, end
            items.append(value)
            position = end

    # -- the exact path -----------------------------------------------------------------

    def _feed_exact(self, data: bytes, position: int, stop: int) -> int:
        """Lex from ``position`` as QEMU does, byte by byte (in runs); return at the
        first point at or after ``stop`` where no message is in progress, else at the
        end of ``data``."""
        size = len(data)
        state = self._state
        prefix = self._prefix
        limit = self._limits.max_token_size
        start = position  # where the current token's bytes in this chunk begin
        while position < size:
            if state == _START:
                if self._token_count == 0 and position >= stop:
                    break
                action = _ACTIONS[_START][data[position]]
                if action == _SKIP:
                    position = _WHITESPACE_RUN.match(data, position).end()  # type: ignore[union-attr]
                    continue
                if action >= _ERROR:
                    position += 1
                    self._stray(data[position - 1 : position])
                    state = _RECOVERY
                    continue
                if action >= _EMIT_WITH:
                    position += 1
                    self._token(action - _EMIT_WITH, data[position - 1 : position])
                    continue
                state = action  # a token begins
                start = position
                position += 1
                if limit < 1:
                    self._fail(TOKEN_SIZE_EXCEEDED)
                    state = _START
                continue
            if state == _RECOVERY:
                position = _RECOVERY_RUN.match(data, position).end()  # type: ignore[union-attr]
                if position < size:
                    state = _START
                continue
            run = _RUNS[state]
            if run is not None:
                end = run.match(data, position).end()  # type: ignore[union-attr]
                if end > position:
                    length = len(prefix) + end - start
                    if length > limit:
                        # QEMU checks after every byte: it gives up on the token at the
                        # byte that takes it one past the limit, and starts afresh after.
                        position = end - (length - limit - 1)
                        prefix.clear()
                        self._fail(TOKEN_SIZE_EXCEEDED)
                        state = _START
                        continue
                    position = end
                    if position >= size:
                        break
            action = _ACTIONS[state][data[position]]
            if action < _EMIT_BEFORE:
                position += 1
                state = action
                if len(prefix) + position - start > limit:
                    prefix.clear()
                    self._fail(TOKEN_SIZE_EXCEEDED)
                    state = _START
                continue
            if action < _EMIT_WITH:
                token = data[start:position]
                if prefix:
                    token = bytes(prefix) + token
                    prefix.clear()
                state = _START
                self._token(action - _EMIT_BEFORE, token)
                continue
            position += 1
            token = data[start:position]
            if prefix:
                token = bytes(prefix) + token
                prefix.clear()
            if action < _ERROR:
                state = _START
                self._token(action - _EMIT_WITH, token)
            else:
                state = _RECOVERY
                self._stray(token)
        if state >= _DQ:
            prefix += data[start:position]
        self._state = state
        return position

    # -- the streamer ------------------------------------------------------------------

    def _reset(self) -> None:
        self._message.clear()
        self._previous_word = False
        self._brace_count = 0
        self._bracket_count = 0
        self._token_count = 0
        self._token_size = 0

    def _fail(self, desc: str) -> None:
        self._reset()
        self._items.append(FrameError(desc))

    def _stray(self, token: bytes) -> None:
        self._fail("JSON parse error, stray '" + qemu_text(token) + "'")

    def _token(self, kind: int, token: bytes) -> None:
        if kind <= _RSQUARE:
            if kind == _LCURLY:
                self._brace_count += 1
            elif kind == _RCURLY:
                self._brace_count -= 1
            elif kind == _LSQUARE:
                self._bracket_count += 1
            else:
                self._bracket_count -= 1
        limits = self._limits
        size = len(token)
        if self._token_size + size + 1 > limits.max_token_size:
            self._fail(TOKEN_SIZE_EXCEEDED)
            return
        if self._token_count + 1 > limits.max_token_count:
            self._fail(TOKEN_COUNT_EXCEEDED)
            return
        if self._brace_count + self._bracket_count > limits.max_nesting:
            self._fail(NESTING_EXCEEDED)
            return
        word = kind in _WORDS
        message = self._message
        if word and self._previous_word:
            message += b" "
        message += token
        self._previous_word = word
        self._token_count += 1
        self._token_size += size
        braces = self._brace_count
        brackets = self._bracket_count
        if (braces > 0 or brackets > 0) and braces >= 0 and brackets >= 0:
            return
        text = bytes(message)
        self._reset()
        self._items.append(decode_message(text, limits.max_nesting))
