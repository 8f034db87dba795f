"""QEMU's JSON dialect, read exactly and written as QEMU writes it.

Reading: :func:`parse_message` turns the text of one framed message (its tokens, as
:mod:`pyqmp.protocol.framing` collected them) into a Python value the way
``qobject/json-parser.c`` does, or raises :class:`JSONParseError` with QEMU's exact
message.  The dialect extends RFC 8259 with single-quoted strings and the ``\\'`` escape;
strings are modified UTF-8 (``C0 80`` is U+0000) and refuse noncharacters; integers
beyond 64 bits become floats.  Errors are reported as the first one QEMU meets.

Writing: :func:`dumps` is QEMU's JSON writer (``qobject/json-writer.c``) byte for byte:
``", "`` and ``": "`` separators, members in ``QDict`` order, floats as ``%.17g``,
everything outside printable ASCII as an upper-case ``\\uXXXX``.  It is the exact path;
:func:`dumps_ascii` is the fast one (orjson, then ASCII escapes), equal as JSON but
spaced and ordered differently.  :func:`qemu_text` is what QEMU's writer makes of raw
bytes (its error messages quote the client's bytes): invalid sequences become U+FFFD.
"""

from __future__ import annotations

import re
from typing import TypeAlias

import orjson

from .errors import EncodeError
from .qemu_order import qdict_order

JSONValue: TypeAlias = "dict[str, JSONValue] | list[JSONValue] | str | int | float | bool | None"

_INT64_MIN = -(1 << 63)
_UINT64_LIMIT = 1 << 64
# QEMU formats a parser message into a 1024-byte buffer before prefixing it.
_PARSE_MESSAGE_BYTES = 1023
_MIN_CODEPOINT = (0x80, 0x800, 0x10000, 0x200000, 0x4000000)


class JSONParseError(Exception):
    """The message is not valid in QEMU's dialect; ``desc`` is QEMU's error text."""

    def __init__(self, desc: str) -> None:
        super().__init__(desc)
        self.desc = desc


# -- Unicode as util/unicode.c sees it -------------------------------------------------


def is_valid_codepoint(codepoint: int) -> bool:
    """In the Unicode range, not a surrogate, not one of the 66 noncharacters."""
    if codepoint < 0 or codepoint > 0x10FFFF:
        return False
    if 0xFDD0 <= codepoint <= 0xFDEF or (codepoint & 0xFFFE) == 0xFFFE:
        return False
    return not 0xD800 <= codepoint <= 0xDFFF


def mod_utf8_codepoint(data: bytes, start: int) -> tuple[int, int]:
    """Decode the modified UTF-8 sequence at ``data[start]``: (codepoint or -1, end).

    ``end`` is where QEMU's ``mod_utf8_codepoint`` resumes: after the lead byte and the
    continuation bytes it found, whether or not the sequence was valid.
    """
    size = len(data)
    if start >= size or data[start] == 0:
        return -1, start
    lead = data[start]
    index = start + 1
    if lead < 0x80:
        return lead, index
    if lead >= 0xFE or not lead & 0x40:
        return -1, index
    # The lead byte's leading one bits say how long the sequence is (up to 6 in QEMU).
    length = (
        2 if lead < 0xE0 else 3 if lead < 0xF0 else 4 if lead < 0xF8 else (5 if lead < 0xFC else 6)
    )
    codepoint = lead & (0x7F >> length)
    for _ in range(length - 1):
        byte = data[index] if index < size else 0
        if byte & 0xC0 != 0x80:
            return -1, index
        index += 1
        codepoint = (codepoint << 6) | (byte & 0x3F)
    if not is_valid_codepoint(codepoint):
        return -1, index
    if codepoint < _MIN_CODEPOINT[length - 2] and not (codepoint == 0 and length == 2):
        return -1, index  # overlong, except C0 80 for U+0000
    return codepoint, index


_NONCHARACTER = re.compile(
    "[\ufdd0-\ufdef\ufffe\uffff\U0001fffe-\U0001ffff\U0002fffe-"
    "\U0002ffff\U0003fffe-\U0003ffff\U0004fffe-\U0004ffff"
    "\U0005fffe-\U0005ffff\U0006fffe-\U0006ffff\U0007fffe-"
    "\U0007ffff\U0008fffe-\U0008ffff\U0009fffe-\U0009ffff"
    "\U000afffe-\U000affff\U000bfffe-\U000bffff\U000cfffe-"
    "\U000cffff\U000dfffe-\U000dffff\U000efffe-\U000effff"
    "\U000ffffe-\U000fffff\U0010fffe-\U0010ffff]"
)
#: UTF-8 byte sequences of noncharacters: valid UTF-8 that QEMU nevertheless refuses.
NONCHARACTER_UTF8 = re.compile(
    rb"\xef\xb7[\x90-\xaf]|\xef\xbf[\xbe\xbf]|[\xf0-\xf4][\x8f\x9f\xaf\xbf]\xbf[\xbe\xbf]"
)


def qemu_text(raw: bytes) -> str:
    """What QEMU's JSON writer shows for the C string ``raw``: its text up to the first
    NUL, each invalid modified UTF-8 sequence replaced by one U+FFFD."""
    end = raw.find(b"\x00")
    if end >= 0:
        raw = raw[:end]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return _NONCHARACTER.sub("\ufffd", text)
    pieces: list[str] = []
    index = 0
    size = len(raw)
    while index < size:
        codepoint, index = mod_utf8_codepoint(raw, index)
        pieces.append("\ufffd" if codepoint < 0 else chr(codepoint))
    return "".join(pieces)


# -- reading ---------------------------------------------------------------------------

_STRUCTURAL = 1
_STRING = 2
_NUMBER = 3
_KEYWORD = 4

# One token of a framed message: the framer keeps tokens and, where two words would run
# together, one space.  Every token in the text was already accepted by the lexer.
_TOKEN = re.compile(
    rb"""\ ?(?:
      ([{}\[\]:,])
    | ("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (-?(?:0(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?)?|[1-9][0-9]*(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?))
    | ([a-z]+)
    )""",
    re.VERBOSE | re.DOTALL,
)
_HEX4 = re.compile(rb"[0-9A-Fa-f]{4}")
_SIMPLE_ESCAPES = {
    ord('"'): '"',
    ord("'"): "'",
    ord("\\"): "\\",
    ord("/"): "/",
    ord("b"): "\b",
    ord("f"): "\f",
    ord("n"): "\n",
    ord("r"): "\r",
    ord("t"): "\t",
}


def _fail(message: bytes) -> JSONParseError:
    return JSONParseError("JSON parse error, " + qemu_text(message[:_PARSE_MESSAGE_BYTES]))


def _hex4(data: bytes, start: int) -> int:
    return int(data[start : start + 4], 16) if _HEX4.match(data, start) else -1


def parse_string(token: bytes) -> str:
    """Decode a string token (quotes included) as ``parse_string`` does."""
    body = token[1:-1]
    if b"\\" not in body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if _NONCHARACTER.search(text):
                raise _fail(b"invalid UTF-8 sequence in string")
            return text
    # The exact walk.  QEMU reads the token as a C string, so past the closing quote
    # comes a NUL: a \u escape cut short stops there.
    data = token + b"\x00"
    end = len(token) - 1
    pieces: list[str] = []
    index = 1
    while index < end:
        byte = data[index]
        if byte == 0x5C:
            begin = index
            escape = data[index + 1]
            if escape != 0x75:  # not \u
                simple = _SIMPLE_ESCAPES.get(escape)
                if simple is None:
                    raise _fail(b"invalid escape sequence in string")
                pieces.append(simple)
                index += 2
                continue
            index += 2
            codepoint = _hex4(data, index)
            index += 4
            if 0xD800 <= codepoint <= 0xDBFF and data[index : index + 2] == b"\\u":
                codepoint = 0x10000 + ((codepoint & 0x3FF) << 10)
                trailing = _hex4(data, index + 2)
                if 0xDC00 <= trailing <= 0xDFFF:
                    codepoint |= trailing & 0x3FF
                    index += 6
                else:
                    codepoint = -1
            if not is_valid_codepoint(codepoint):
                escape_text = data[begin:index].split(b"\x00", 1)[0]
                raise _fail(escape_text + b" is not a valid Unicode character")
            pieces.append(chr(codepoint))
        elif byte < 0x80:
            pieces.append(chr(byte))
            index += 1
        else:
            codepoint, index = mod_utf8_codepoint(data, index)
            if codepoint < 0:
                raise _fail(b"invalid UTF-8 sequence in string")
            pieces.append(chr(codepoint))
    return "".join(pieces)


def parse_number(token: bytes) -> int | float:
    """An integer token as int64 or uint64 if it fits, else (and floats) as a double."""
    if b"." in token or b"e" in token or b"E" in token:
        return float(token)
    value = int(token)
    if _INT64_MIN <= value < _UINT64_LIMIT:
        return value
    return float(token)


def _tokens(text: bytes) -> list[tuple[int, bytes]]:
    tokens: list[tuple[int, bytes]] = []
    append = tokens.append
    position = 0
    for match in _TOKEN.finditer(text):
        if match.start() != position:
            raise AssertionError(f"framer handed over a bad token at {position}: {text!r}")
        position = match.end()
        kind = match.lastindex
        assert kind is not None
        append((kind, match.group(kind)))
    if position != len(text):
        raise AssertionError(f"framer handed over a bad token at {position}: {text!r}")
    return tokens


_EOI = b"premature EOI"


def parse_message(text: bytes) -> JSONValue:
    """Parse one framed message as ``json_parser_parse`` does.

    The parse is iterative (messages nest up to 1024 deep); the first error met, in
    QEMU's order, is the one raised.
    """
    tokens = _tokens(text)
    count = len(tokens)
    index = 0
    # Each open container: [container, is_object, key awaiting its value or None].
    stack: list[list[object]] = []
    value: JSONValue = None
    while True:
        # -- a value is expected at tokens[index] ------------------------------------
        if index >= count:
            raise _fail(_EOI)
        kind, token = tokens[index]
        if kind == _STRUCTURAL and token in b"{[":
            index += 1
            if index >= count:
                raise _fail(_EOI)
            closer = b"}" if token == b"{" else b"]"
            if tokens[index][1] == closer and tokens[index][0] == _STRUCTURAL:
                index += 1
                value = {} if token == b"{" else []
            else:
                stack.append([{} if token == b"{" else [], token == b"{", None])
                continue
        elif kind == _STRING:
            value = parse_string(token)
            index += 1
        elif kind == _NUMBER:
            value = parse_number(token)
            index += 1
        elif kind == _KEYWORD:
            if token == b"true":
                value = True
            elif token == b"false":
                value = False
            elif token == b"null":
                value = None
            else:
                raise _fail(b"invalid keyword '" + token + b"'")
            index += 1
        else:
            raise _fail(b"expecting value")
        # -- a value is complete: hand it to the containers ---------------------------
        while stack:
            frame = stack[-1]
            container, is_object, key = frame
            if is_object:
                assert isinstance(container, dict)
                if key is None:
                    if not isinstance(value, str):
                        raise _fail(b"key is not a string in object")
                    frame[2] = value
                    if index >= count:
                        raise _fail(_EOI)
                    if tokens[index] != (_STRUCTURAL, b":"):
                        raise _fail(b"missing : in object pair")
                    index += 1
                    break
                assert isinstance(key, str)
                if key in container:
                    raise _fail(b"duplicate key")
                container[key] = value
                frame[2] = None
                if index >= count:
                    raise _fail(_EOI)
                kind, token = tokens[index]
                index += 1
                if kind == _STRUCTURAL and token == b"}":
                    stack.pop()
                    value = container
                    continue
                if kind != _STRUCTURAL or token != b",":
                    raise _fail(b"expected separator in dict")
                break
            assert isinstance(container, list)
            container.append(value)
            if index >= count:
                raise _fail(_EOI)
            kind, token = tokens[index]
            index += 1
            if kind == _STRUCTURAL and token == b"]":
                stack.pop()
                value = container
                continue
            if kind != _STRUCTURAL or token != b",":
                raise _fail(b"expected separator in list")
            break
        else:
            return value


# -- writing ---------------------------------------------------------------------------

_WRITER_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f\x7f-\U0010ffff]')


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    simple = _WRITER_ESCAPES.get(char)
    if simple is not None:
        return simple
    codepoint = ord(char)
    if codepoint > 0x7F and not is_valid_codepoint(codepoint):
        codepoint = 0xFFFD  # what QEMU's writer makes of a sequence it cannot decode
    if codepoint > 0xFFFF:
        codepoint -= 0x10000
        return f"\\u{0xD800 + (codepoint >> 10):04X}\\u{0xDC00 + (codepoint & 0x3FF):04X}"
    return f"\\u{codepoint:04X}"


def quote(text: str) -> str:
    """A string as QEMU's writer quotes it."""
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, text) + '"'


class _Raw:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _describe(path: list[str]) -> str:
    return "".join(path).lstrip(".")


def dumps(value: object) -> str:
    """``value`` exactly as QEMU's JSON writer prints it (``qobject_to_json``)."""
    parts: list[str] = []
    # Work items: a value to write (with its member path, for errors), or raw text.
    work: list[tuple[object, str]] = [(value, "")]
    while work:
        item, path = work.pop()
        if type(item) is _Raw:
            parts.append(item.text)
        elif item is None:
            parts.append("null")
        elif item is True:
            parts.append("true")
        elif item is False:
            parts.append("false")
        elif isinstance(item, int):
            parts.append(str(int(item)))
        elif isinstance(item, float):
            parts.append(f"{item:.17g}")
        elif isinstance(item, str):
            parts.append(quote(item))
        elif isinstance(item, dict):
            if not item:
                parts.append("{}")
                continue
            for key in item:
                if not isinstance(key, str):
                    raise EncodeError(f"object key {key!r} is not a string", path)
            parts.append("{")
            work.append((_Raw("}"), path))
            ordered = qdict_order(item)
            for position in range(len(ordered) - 1, -1, -1):
                key = ordered[position]
                work.append((item[key], f"{path}.{key}"))
                work.append((_Raw((", " if position else "") + quote(key) + ": "), path))
        elif isinstance(item, list | tuple):
            if not item:
                parts.append("[]")
                continue
            parts.append("[")
            work.append((_Raw("]"), path))
            for position in range(len(item) - 1, -1, -1):
                work.append((item[position], f"{path}[{position}]"))
                if position:
                    work.append((_Raw(", "), path))
        else:
            raise EncodeError(f"{type(item).__name__} has no JSON form", path.lstrip("."))
    return "".join(parts)


_NON_ASCII = re.compile("[\x7f-\U0010ffff]")
# orjson writes control characters as \u00xx (lower case); QEMU upper-cases them.
_LOWER_HEX_ESCAPE = re.compile(rb"(\\\\)|\\u00(1[a-f]|0[b-f])")


def _upper_hex(match: re.Match[bytes]) -> bytes:
    if match.group(1):
        return match.group(1)
    return b"\\u00" + match.group(2).upper()


def ascii_json(encoded: bytes) -> bytes:
    """UTF-8 JSON text made ASCII-only the way QEMU writes it (``\\uXXXX`` escapes)."""
    if not encoded.isascii() or b"\x7f" in encoded:
        encoded = _NON_ASCII.sub(_escape_char, encoded.decode("utf-8")).encode("ascii")
    if b"\\u00" in encoded:
        encoded = _LOWER_HEX_ESCAPE.sub(_upper_hex, encoded)
    return encoded


def dumps_ascii(value: object) -> bytes:
    """``value`` as ASCII-only JSON, fast: equal as JSON to :func:`dumps` (finite floats
    are written shortest-first rather than ``%.17g``, members in the order given)."""
    try:
        encoded = orjson.dumps(value)
    except TypeError:
        # Deeper than orjson goes, a lone surrogate, or no JSON form at all: the exact
        # writer handles the first two and names the culprit of the third.
        return dumps(value).encode("ascii")
    if encoded.isascii() and b"\x7f" not in encoded and b"\\u00" not in encoded:
        return encoded
    return ascii_json(encoded)
