"""A slow, obviously-faithful model of QEMU's JSON lexer and streamer, as a test oracle.

One byte at a time, one state at a time, written from the rules in the comments of
``qobject/json-lexer.c`` and ``json-streamer.c`` with none of the framer's shortcuts
(no regular-expression runs, no fast path, no orjson; every token kept separately and
joined with a space for the parser).  :class:`pyqmp.protocol.JSONStreamer` must give
the same items for any input.
"""

from __future__ import annotations

from pyqmp.protocol import DEFAULT_LIMITS, FrameError, FrameItem, JSONParseError, Limits
from pyqmp.protocol.qemu_json import parse_message, qemu_text

STRUCTURAL = {ord(char): char for char in "{}[]:,"}
WHITESPACE = b" \t\r\n"
DIGITS = b"0123456789"
LETTERS = b"abcdefghijklmnopqrstuvwxyz"


class OracleStreamer:
    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.state = "start"
        self.token = bytearray()
        self.tokens: list[bytes] = []
        self.braces = 0
        self.brackets = 0
        self.size = 0
        self.items: list[FrameItem] = []

    def feed(self, data: bytes) -> list[FrameItem]:
        self.items = []
        for byte in data:
            self._byte(byte)
        return self.items

    # -- lexer ---------------------------------------------------------------------------

    def _byte(self, byte: int) -> None:
        consumed = False
        while not consumed:
            consumed = self._step(byte)
        if len(self.token) > self.limits.max_token_size:
            self.token.clear()
            self.state = "start"
            self._emit_error("JSON token size limit exceeded")

    def _take(self, byte: int, state: str) -> bool:
        self.token.append(byte)
        self.state = state
        return True

    def _error(self, byte: int) -> bool:
        self.token.append(byte)
        text = bytes(self.token)
        self.token.clear()
        self.state = "recovery"
        self._emit_error("JSON parse error, stray '" + qemu_text(text) + "'")
        return True

    def _end(self, kind: str) -> bool:
        # The token ended before this byte: hand it over, look at the byte again.
        text = bytes(self.token)
        self.token.clear()
        self.state = "start"
        self._process(kind, text)
        return False

    def _step(self, byte: int) -> bool:
        state = self.state
        if state == "recovery":
            if (byte < 0x20 and byte != 0x09) or byte >= 0xFE or byte in STRUCTURAL:
                self.state = "start"
                return False
            return True
        if state == "start":
            if byte in WHITESPACE:
                return True
            if byte in STRUCTURAL:
                self.token.append(byte)
                text = bytes(self.token)
                self.token.clear()
                self._process(STRUCTURAL[byte], text)
                return True
            if byte == ord('"'):
                return self._take(byte, "dq")
            if byte == ord("'"):
                return self._take(byte, "sq")
            if byte == ord("0"):
                return self._take(byte, "zero")
            if byte in b"123456789":
                return self._take(byte, "digits")
            if byte == ord("-"):
                return self._take(byte, "sign")
            if byte in LETTERS:
                return self._take(byte, "keyword")
            return self._error(byte)
        if state in ("dq", "sq"):
            quote = ord('"') if state == "dq" else ord("'")
            if byte == quote:
                self.token.append(byte)
                text = bytes(self.token)
                self.token.clear()
                self.state = "start"
                self._process("string", text)
                return True
            if byte == ord("\\"):
                return self._take(byte, state + "-escape")
            if 0x20 <= byte <= 0xFD:
                return self._take(byte, state)
            return self._error(byte)
        if state in ("dq-escape", "sq-escape"):
            if 0x20 <= byte <= 0xFD:
                return self._take(byte, state[:2])
            return self._error(byte)
        if state == "zero":
            if byte in DIGITS:
                return self._error(byte)
            if byte == ord("."):
                return self._take(byte, "mantissa")
            return self._end("integer")
        if state == "sign":
            if byte == ord("0"):
                return self._take(byte, "zero")
            if byte in b"123456789":
                return self._take(byte, "digits")
            return self._error(byte)
        if state == "digits":
            if byte in DIGITS:
                return self._take(byte, "digits")
            if byte in b"eE":
                return self._take(byte, "exp-e")
            if byte == ord("."):
                return self._take(byte, "mantissa")
            return self._end("integer")
        if state == "mantissa":
            if byte in DIGITS:
                return self._take(byte, "mantissa-digits")
            return self._error(byte)
        if state == "mantissa-digits":
            if byte in DIGITS:
                return self._take(byte, "mantissa-digits")
            if byte in b"eE":
                return self._take(byte, "exp-e")
            return self._end("float")
        if state == "exp-e":
            if byte in b"+-":
                return self._take(byte, "exp-sign")
            if byte in DIGITS:
                return self._take(byte, "exp-digits")
            return self._error(byte)
        if state == "exp-sign":
            if byte in DIGITS:
                return self._take(byte, "exp-digits")
            return self._error(byte)
        if state == "exp-digits":
            if byte in DIGITS:
                return self._take(byte, "exp-digits")
            return self._end("float")
        assert state == "keyword", state
        if byte in LETTERS:
            return self._take(byte, "keyword")
        return self._end("keyword")

    # -- streamer ------------------------------------------------------------------------

    def _reset(self) -> None:
        self.tokens = []
        self.braces = self.brackets = self.size = 0

    def _emit_error(self, desc: str) -> None:
        self._reset()
        self.items.append(FrameError(desc))

    def _process(self, kind: str, text: bytes) -> None:
        self.braces += {"{": 1, "}": -1}.get(kind, 0)
        self.brackets += {"[": 1, "]": -1}.get(kind, 0)
        if self.size + len(text) + 1 > self.limits.max_token_size:
            self._emit_error("JSON token size limit exceeded")
            return
        if len(self.tokens) + 1 > self.limits.max_token_count:
            self._emit_error("JSON token count limit exceeded")
            return
        if self.braces + self.brackets > self.limits.max_nesting:
            self._emit_error("JSON nesting depth limit exceeded")
            return
        self.tokens.append(text)
        self.size += len(text)
        if (self.braces > 0 or self.brackets > 0) and self.braces >= 0 and self.brackets >= 0:
            return
        message = b" ".join(self.tokens)
        self._reset()
        try:
            self.items.append(parse_message(message))
        except JSONParseError as error:
            self.items.append(FrameError(error.desc))
