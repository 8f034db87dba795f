"""The exact QAPI parser: token by token, every error where QEMU reports it.

Used for files the fast path (:mod:`.fast_reader`) declines — any file with an error,
and valid files with unusual spelling (escapes, tabs in strings).  It reproduces QEMU's
lexer and parser rules: which token is read when, so that of several problems the
first one QEMU meets is the one reported, at QEMU's line and column (tabs to 8).
Tokens are produced lazily, so a huge or hostile file costs no more memory than its text.
"""

from __future__ import annotations

import re

from .docs import DocBlock
from .errors import SchemaError, SchemaParseError, SourceInfo
from .source import column

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Iterator

    from .source import FileSink, JSONValue

# Every token, newlines included; finditer() skips the blanks between tokens.  A string
# token may be unterminated or hold bad characters: the parser checks strings.
_TOKEN_RE = re.compile(r"""\n|#[^\n]*|'(?:[^'\\\n]|\\.)*'?|[{}:,\[\]]|true|false|\S""")
_STRAY_RE = re.compile(r"""[^\[\]{}:,\s'"]+""")
_SIMPLE_TOKENS = frozenset(("{", "}", "[", "]", ":", ",", "true", "false"))

# Nesting beyond this is refused with an error rather than exhausting the stack.
MAX_NESTING = 256


class ExactParser:
    """Parses one file's text, handing expressions and doc comments to ``reader``."""

    def __init__(self, reader: FileSink, text: str) -> None:
        self.reader = reader
        self.text = text
        self.matches: Iterator[re.Match[str]] = _TOKEN_RE.finditer(text)
        self.tok: str | None = None  # the current token; None at the end
        self.pos = 0  # where it starts
        self.at_end = False
        self.depth = 0

    # -- errors --------------------------------------------------------------------

    def move_to(self, line: int) -> None:
        """Doc blocks are fed one line at a time here: the position is already right."""

    def parse_error(self, message: str) -> SchemaParseError:
        """An error at the current token, with QEMU's column rule."""
        line_start = self.text.rfind("\n", 0, self.pos) + 1
        col = column(self.text[line_start : self.pos])
        return SchemaParseError(self.reader.info_here(), message, col)

    # -- tokens ----------------------------------------------------------------------

    def advance(self, keep_comments: bool = False) -> str | None:
        """Move to the next token, skipping newlines and (unless kept) plain comments."""
        reader = self.reader
        for match in self.matches:
            tok = match.group()
            if tok == "\n":
                reader.line += 1
                continue
            if tok[0] == "#" and not keep_comments and not tok.startswith("##"):
                continue
            self.tok = tok
            self.pos = match.start()
            return tok
        if not self.at_end:
            self.at_end = True
            reader.line -= 1  # the end sits on the last line, as in QEMU
        self.tok = None
        self.pos = len(self.text) - 1
        return None

    def check_token(self, tok: str | None) -> None:
        """Raise QEMU's lexical error for a bad string or stray character."""
        if tok is None or tok in _SIMPLE_TOKENS or tok[0] == "#":
            return
        if tok[0] == "'":
            self.string_value(tok)
            return
        match = _STRAY_RE.match(self.text, self.pos)
        raise self.parse_error(f"stray '{match.group(0) if match else tok}'")

    def string_value(self, tok: str) -> str:
        body = tok[1:-1]
        if (
            len(tok) >= 2
            and tok[-1] == "'"
            and "\\" not in body
            and body.isascii()
            and body.isprintable()
        ):
            return body
        # Walk the characters as QEMU does: the first problem found is reported.
        value: list[str] = []
        escaped = False
        for ch in tok[1:]:
            if escaped:
                if ch != "\\":
                    raise self.parse_error(f"unknown escape \\{ch}")
                escaped = False
            elif ch == "\\":
                escaped = True
                continue
            elif ch == "'":
                return "".join(value)
            if ord(ch) < 32 or ord(ch) >= 127:
                raise self.parse_error("funny character in string")
            value.append(ch)
        raise self.parse_error('missing terminating "\'"')

    # -- values ------------------------------------------------------------------------

    def get_value(self) -> JSONValue:
        """Parse the value at the current token and move past it."""
        tok = self.tok
        if tok is not None:
            if tok[0] == "'":
                value = self.string_value(tok)
                self.advance()
                return value
            if tok == "{":
                return self.get_members()
            if tok == "[":
                return self.get_values()
            if tok == "true" or tok == "false":
                self.advance()
                return tok == "true"
        self.check_token(tok)
        raise self.parse_error("expected '{', '[', string, or boolean")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.parse_error(f"nesting too deep (more than {MAX_NESTING} levels)")

    def get_members(self) -> dict[str, JSONValue]:
        self.enter()
        members: dict[str, JSONValue] = {}
        tok = self.advance()
        if tok == "}":
            self.advance()
            self.depth -= 1
            return members
        if tok is None or tok[0] != "'":
            self.check_token(tok)
            raise self.parse_error("expected string or '}'")
        while True:
            key = self.string_value(tok)
            if self.advance() != ":":
                self.check_token(self.tok)
                raise self.parse_error("expected ':'")
            self.advance()
            if key in members:
                self.check_token(self.tok)
                raise self.parse_error(f"duplicate key '{key}'")
            members[key] = self.get_value()
            if self.tok == "}":
                self.advance()
                self.depth -= 1
                return members
            if self.tok != ",":
                self.check_token(self.tok)
                raise self.parse_error("expected ',' or '}'")
            tok = self.advance()
            if tok is None or tok[0] != "'":
                self.check_token(tok)
                raise self.parse_error("expected string")

    def get_values(self) -> list[JSONValue]:
        self.enter()
        values: list[JSONValue] = []
        tok = self.advance()
        if tok == "]":
            self.advance()
            self.depth -= 1
            return values
        if tok is None or not (tok[0] in "{['" or tok in ("true", "false")):
            self.check_token(tok)
            raise self.parse_error("expected '{', '[', ']', string, or boolean")
        while True:
            values.append(self.get_value())
            if self.tok == "]":
                self.advance()
                self.depth -= 1
                return values
            if self.tok != ",":
                self.check_token(self.tok)
                raise self.parse_error("expected ',' or ']'")
            self.advance()

    # -- the file ------------------------------------------------------------------

    def parse(self) -> None:
        reader = self.reader
        tok = self.advance()
        cur_doc: DocBlock | None = None
        while tok is not None:
            info = reader.info_here()
            if tok[0] == "#":
                reader.reject_expr_doc(cur_doc)
                for cur_doc in self.get_doc(reader, info):
                    reader.docs.append(cur_doc)
                tok = self.tok
                continue
            if tok != "{":
                self.get_value()
                self.check_token(self.tok)  # QEMU has read the next token already
                raise SchemaError(info, "top-level expression must be an object")
            expr = self.get_members()
            # QEMU has already read the next token here: its lexical errors come first.
            self.check_token(self.tok)
            reader.handle_expr(expr, info, cur_doc)
            cur_doc = None
            tok = self.tok
        reader.reject_expr_doc(cur_doc)

    def get_doc(self, reader: FileSink, info: SourceInfo) -> list[DocBlock]:
        """Read a doc comment; a ``# =`` heading line splits it into blocks."""
        if self.tok != "##":
            raise self.parse_error("junk after '##' at start of documentation comment")
        blocks: list[DocBlock] = []
        block = DocBlock(self, info)
        tok = self.advance(keep_comments=True)
        while tok is not None and tok[0] == "#":
            if tok.startswith("##"):
                if tok != "##":
                    raise self.parse_error("junk after '##' at end of documentation comment")
                block.end_comment()
                blocks.append(block)
                self.check_token(self.advance())
                return blocks
            if tok.startswith("# ="):
                block = block.before_heading(blocks)
            block.append(tok)
            tok = self.advance(keep_comments=True)
        self.check_token(tok)
        raise self.parse_error("documentation comment must end with '##'")
