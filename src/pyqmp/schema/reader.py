"""Read QAPI schema source: the JSON dialect, directives and doc comments.

Stage one of the compiler.  It turns a file (and the files it includes) into a flat
list of :class:`TopLevelExpr` — plain dicts, lists, strings and booleans, each tagged
with its :class:`SourceInfo` and the doc comment written above it — plus the list of all
doc comments.  ``include`` and ``pragma`` directives are acted on here.  What the
expressions mean is checked later (``exprs``, then ``builder``).

The dialect: JSON objects, arrays, strings and ``true``/``false`` only; strings in
single quotes, printable ASCII, with ``\\\\`` the only escape; ``#`` starts a comment;
``##`` starts a doc comment.  Speed matters (QEMU's schema is ~22,700 lines), so the
whole file is split into tokens by one regular expression and the parser walks the
token list; positions are recomputed only when an error must be reported.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

from .docs import DocBlock
from .errors import Pragma, SchemaError, SchemaParseError, SourceInfo

# Every token, newlines included; findall() skips the blanks between tokens.  A string
# token may be unterminated or hold bad characters: the parser checks strings.
_TOKEN_RE = re.compile(r"""\n|#[^\n]*|'(?:[^'\\\n]|\\.)*'?|[{}:,\[\]]|true|false|\S""")
_STRAY_RE = re.compile(r"""[^\[\]{}:,\s'"]+""")

# Nesting beyond this is refused with an error rather than exhausting the stack.
MAX_NESTING = 256

JSONValue = dict[str, "JSONValue"] | list["JSONValue"] | str | bool


class TopLevelExpr(NamedTuple):
    """One top-level expression with its source position and doc comment."""

    expr: dict[str, object]
    info: SourceInfo
    doc: DocBlock | None


class ParsedSchema(NamedTuple):
    exprs: list[TopLevelExpr]
    docs: list[DocBlock]
    pragma: Pragma


def read_schema_file(fname: str) -> ParsedSchema:
    """Read ``fname`` and everything it includes.

    Raises :class:`SchemaError` for anything QEMU would reject, and ``OSError`` if
    ``fname`` itself cannot be read.
    """
    pragma = Pragma()
    exprs: list[TopLevelExpr] = []
    docs: list[DocBlock] = []
    _FileParser(fname, None, pragma, {os.path.abspath(fname)}, exprs, docs).parse(
        _read_text(fname, None)
    )
    return ParsedSchema(exprs, docs, pragma)


def _read_text(fname: str, info: SourceInfo | None) -> str:
    with open(fname, "rb") as stream:
        data = stream.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        where = SourceInfo(fname, line, info, Pragma())
        raise SchemaError(where, f"invalid UTF-8 (byte 0x{data[err.start]:02x})") from None
    if not text.endswith("\n"):
        text += "\n"
    return text


class _FileParser:
    """Parser for one source file; included files get parsers of their own."""

    def __init__(
        self,
        fname: str,
        incl_info: SourceInfo | None,
        pragma: Pragma,
        included: set[str],
        exprs: list[TopLevelExpr],
        docs: list[DocBlock],
    ) -> None:
        self.fname = fname
        self.incl_info = incl_info
        self.pragma = pragma
        self.included = included
        self.exprs = exprs
        self.docs = docs
        self.text = ""
        self.toks: list[str] = []
        self.i = 0  # index of the current token
        self.line = 1  # line of the current token
        self.depth = 0

    # -- errors --------------------------------------------------------------------

    def info_here(self) -> SourceInfo:
        return SourceInfo(self.fname, self.line, self.incl_info, self.pragma)

    def move_to(self, line: int) -> None:
        """Doc blocks are fed one line at a time here: the position is already right."""

    def parse_error(self, message: str) -> SchemaParseError:
        """An error positioned at the current token, with QEMU's column rule."""
        if self.i < len(self.toks):
            start = 0
            for index, match in enumerate(_TOKEN_RE.finditer(self.text)):
                if index == self.i:
                    start = match.start()
                    break
        else:
            start = len(self.text) - 1
        line_start = self.text.rfind("\n", 0, start) + 1
        col = 1
        for ch in self.text[line_start:start]:
            col = (col + 7) % 8 + 1 if ch == "\t" else col + 1
        return SchemaParseError(self.info_here(), message, col)

    # -- tokens ----------------------------------------------------------------------

    def advance(self) -> str | None:
        """Move to the next token that is not a newline or a plain comment."""
        toks = self.toks
        i = self.i + 1
        n = len(toks)
        while i < n:
            tok = toks[i]
            if tok == "\n":
                self.line += 1
            elif tok[0] != "#" or tok.startswith("##"):
                self.i = i
                return tok
            i += 1
        if self.i != n:
            self.line -= 1  # EOF sits on the last line, as in QEMU
            self.i = n
        return None

    def advance_in_doc(self) -> str | None:
        """Like :meth:`advance`, but every comment is a token."""
        toks = self.toks
        i = self.i + 1
        n = len(toks)
        while i < n:
            tok = toks[i]
            if tok != "\n":
                self.i = i
                return tok
            self.line += 1
            i += 1
        if self.i != n:
            self.line -= 1
            self.i = n
        return None

    def current(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def check_token(self, tok: str) -> None:
        """Raise QEMU's lexical error for a bad string or stray character."""
        if tok[0] == "'":
            self.string_value(tok)
        elif tok not in ("{", "}", "[", "]", ":", ",", "true", "false") and tok[0] != "#":
            match = _STRAY_RE.match(self.text, self.position_of_current())
            raise self.parse_error(f"stray '{match.group(0) if match else tok}'")

    def position_of_current(self) -> int:
        for index, match in enumerate(_TOKEN_RE.finditer(self.text)):
            if index == self.i:
                return match.start()
        return len(self.text) - 1

    def string_value(self, tok: str) -> str:
        body = tok[1:-1]
        if (
            len(tok) >= 2
            and tok[-1] == "'"
            and "\\" not in body
            and body.isascii()
            and (body.isprintable() or not body)
        ):
            return body
        # The slow path walks the characters as QEMU does, so that the first problem
        # found is the one QEMU reports.
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

    def get_value(self, tok: str | None) -> JSONValue:
        """Parse the value starting at ``tok`` (the current token) and move past it."""
        if tok is None:
            raise self.parse_error("expected '{', '[', string, or boolean")
        first = tok[0]
        if first == "'":
            value: JSONValue = self.string_value(tok)
            self.advance()
            return value
        if first == "{":
            return self.get_members()
        if first == "[":
            return self.get_values()
        if tok == "true":
            self.advance()
            return True
        if tok == "false":
            self.advance()
            return False
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
            if tok is not None:
                self.check_token(tok)
            raise self.parse_error("expected string or '}'")
        while True:
            key = self.string_value(tok)
            tok = self.advance()
            if tok != ":":
                if tok is not None:
                    self.check_token(tok)
                raise self.parse_error("expected ':'")
            tok = self.advance()
            if key in members:
                if tok is not None:
                    self.check_token(tok)
                raise self.parse_error(f"duplicate key '{key}'")
            members[key] = self.get_value(tok)
            tok = self.current()
            if tok == "}":
                self.advance()
                self.depth -= 1
                return members
            if tok != ",":
                if tok is not None:
                    self.check_token(tok)
                raise self.parse_error("expected ',' or '}'")
            tok = self.advance()
            if tok is None or tok[0] != "'":
                if tok is not None:
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
            if tok is not None:
                self.check_token(tok)
            raise self.parse_error("expected '{', '[', ']', string, or boolean")
        while True:
            values.append(self.get_value(tok))
            tok = self.current()
            if tok == "]":
                self.advance()
                self.depth -= 1
                return values
            if tok != ",":
                if tok is not None:
                    self.check_token(tok)
                raise self.parse_error("expected ',' or ']'")
            tok = self.advance()

    # -- the file ------------------------------------------------------------------

    def parse(self, text: str) -> None:
        """Parse the file: the fast path if it can take it, else token by token."""
        plan = _plan_fast_parse(text)
        if plan is None:
            self.parse_by_tokens(text)
        else:
            self.run_plan(text, plan)

    def parse_by_tokens(self, text: str) -> None:
        """The exact parser: every QEMU error, at QEMU's line and column."""
        self.text = text
        self.toks = _TOKEN_RE.findall(text)
        self.i = -1
        tok = self.advance()
        cur_doc: DocBlock | None = None
        while tok is not None:
            info = self.info_here()
            if tok[0] == "#":
                _reject_expr_doc(cur_doc)
                for cur_doc in self.get_doc(info):
                    self.docs.append(cur_doc)
                tok = self.current()
                continue
            if tok[0] != "{":
                self.get_value(tok)
                raise SchemaError(info, "top-level expression must be an object")
            expr = self.get_members()
            # QEMU has already read the next token here: its lexical errors come first.
            if (nxt := self.current()) is not None:
                self.check_token(nxt)
            self.handle_expr(expr, info, cur_doc)
            cur_doc = None
            tok = self.current()
        _reject_expr_doc(cur_doc)

    def run_plan(self, text: str, plan: list[_PlanItem]) -> None:
        """Act on a file the fast path has split into doc comments and expressions."""
        cur_doc: DocBlock | None = None
        position = _LinePosition(self, text)
        for start, value in plan:
            self.line = start
            info = self.info_here()
            if isinstance(value, list):
                _reject_expr_doc(cur_doc)
                for cur_doc in self.doc_from_lines(info, value, start, position):
                    self.docs.append(cur_doc)
                continue
            self.handle_expr(value, info, cur_doc)
            cur_doc = None
        _reject_expr_doc(cur_doc)

    def doc_from_lines(
        self, info: SourceInfo, comments: list[str], start: int, position: _LinePosition
    ) -> list[DocBlock]:
        """The doc comment opened by '##' on line ``start``: its lines, blanks as ''."""
        blocks: list[DocBlock] = []
        block = DocBlock(position, info)
        first = 0  # index in comments of the first line not yet fed
        for index, comment in enumerate(comments):
            if comment.startswith("# ="):
                block.feed(comments[first:index], start + 1 + first)
                first = index
                if block.symbol:
                    position.move_to(start + 1 + index)
                    raise position.parse_error("unexpected '=' markup in definition documentation")
                if block.body.text:
                    position.move_to(start + 1 + index)
                    block.end_comment()
                    blocks.append(block)
                    block = DocBlock(position, info)
        block.feed(comments[first:], start + 1 + first)
        position.move_to(start + 1 + len(comments))
        block.end_comment()
        blocks.append(block)
        return blocks

    def handle_expr(
        self, expr: dict[str, JSONValue], info: SourceInfo, cur_doc: DocBlock | None
    ) -> None:
        """Act on a directive, or record a definition with its doc comment."""
        if "include" in expr:
            _reject_expr_doc(cur_doc)
            self.include(expr, info)
        elif "pragma" in expr:
            _reject_expr_doc(cur_doc)
            if len(expr) != 1:
                raise SchemaError(info, "invalid 'pragma' directive")
            value = expr["pragma"]
            if not isinstance(value, dict):
                raise SchemaError(info, "value of 'pragma' must be an object")
            for name, setting in value.items():
                self.set_pragma(name, setting, info)
        else:
            if cur_doc is not None and not cur_doc.symbol:
                raise SchemaError(cur_doc.info, "definition documentation required")
            self.exprs.append(TopLevelExpr(expr, info, cur_doc))  # type: ignore[arg-type]

    def include(self, expr: dict[str, JSONValue], info: SourceInfo) -> None:
        if len(expr) != 1:
            raise SchemaError(info, "invalid 'include' directive")
        include = expr["include"]
        if not isinstance(include, str):
            raise SchemaError(info, "value of 'include' must be a string")
        incl_fname = os.path.join(os.path.dirname(self.fname), include)
        self.exprs.append(TopLevelExpr({"include": incl_fname}, info, None))
        incl_abs = os.path.abspath(incl_fname)
        where: SourceInfo | None = info
        while where is not None:
            if incl_abs == os.path.abspath(where.fname):
                raise SchemaError(info, f"inclusion loop for {include}")
            where = where.parent
        if incl_abs in self.included:
            return
        self.included.add(incl_abs)
        try:
            text = _read_text(incl_fname, info)
        except OSError as err:
            raise SchemaError(
                info, f"can't read include file '{incl_fname}': {err.strerror}"
            ) from None
        _FileParser(incl_fname, info, self.pragma, self.included, self.exprs, self.docs).parse(text)

    def set_pragma(self, name: str, value: object, info: SourceInfo) -> None:
        if name == "doc-required":
            if not isinstance(value, bool):
                raise SchemaError(info, "pragma 'doc-required' must be boolean")
            self.pragma.doc_required = value
            return
        if name not in (
            "command-name-exceptions",
            "command-returns-exceptions",
            "member-name-exceptions",
        ):
            raise SchemaError(info, f"unknown pragma '{name}'")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SchemaError(info, f"pragma {name} must be a list of strings")
        names = frozenset(value)
        if name == "command-name-exceptions":
            self.pragma.command_name_exceptions = names
        elif name == "command-returns-exceptions":
            self.pragma.command_returns_exceptions = names
        else:
            self.pragma.member_name_exceptions = names

    def get_doc(self, info: SourceInfo) -> list[DocBlock]:
        """Read a doc comment; a ``# =`` heading line splits it into blocks."""
        if self.toks[self.i] != "##":
            raise self.parse_error("junk after '##' at start of documentation comment")
        blocks: list[DocBlock] = []
        block = DocBlock(self, info)
        tok = self.advance_in_doc()
        while tok is not None and tok[0] == "#":
            if tok.startswith("##"):
                if tok != "##":
                    raise self.parse_error("junk after '##' at end of documentation comment")
                block.end_comment()
                blocks.append(block)
                if (nxt := self.advance()) is not None:
                    self.check_token(nxt)
                return blocks
            if tok.startswith("# ="):
                if block.symbol:
                    raise self.parse_error("unexpected '=' markup in definition documentation")
                if block.body.text:
                    block.end_comment()
                    blocks.append(block)
                    block = DocBlock(self, info)
            block.append(tok)
            tok = self.advance_in_doc()
        if tok is not None:
            self.check_token(tok)
        raise self.parse_error("documentation comment must end with '##'")


def _reject_expr_doc(doc: DocBlock | None) -> None:
    if doc is not None and doc.symbol:
        raise SchemaError(
            doc.info, f"documentation for '{doc.symbol}' is not followed by the definition"
        )


# -- the fast path ----------------------------------------------------------------------
#
# Well-formed files (all of QEMU's) are split by lines: comment lines, doc comments
# from '##' to '##', and runs of code lines.  A run of code is plain JSON once its
# quotes are swapped, so the C JSON decoder reads it; duplicate keys are caught by a
# hook.  Anything unusual — a tab, an escape, a double quote, a number, a '##' where it
# does not belong, any syntax error — sends the whole file to the exact token parser,
# so errors are always reported as QEMU reports them.  The plan has no side effects:
# includes and pragmas are acted on only once the whole file is known to be well formed.

# (first line, expression) or (line of the opening '##', the doc comment's lines)
_PlanItem = tuple[int, "dict[str, JSONValue] | list[str]"]
# These start with a newline rather than '^': the regex engine then scans for a
# literal, several times faster.  The text is given a leading newline to match.
_DOC_DELIMITER_RE = re.compile(r"\n([^\S\n]*##[^\n]*)")
_NOT_A_COMMENT_LINE_RE = re.compile(r"\n[^\S\n]*[^#\s]")
_COMMENT_LINE_RE = re.compile(r"\n[^\S\n]*#[^\n]*")
_LEADING_BLANK_RE = re.compile(r"\n[^\S\n]")
# Anything but printable ASCII, tab and newline; and '"' and '\\' (one class: fast).
_UNUSUAL_RE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e\n\t]")
_QAPI_STRING_RE = re.compile(r"'[^'\n\t]*'")  # a tab in a string is left behind, and caught
_NOT_JSON_OF_QAPI_RE = re.compile(r"[^{}\[\]:,\s truefals]")
_CODE_BEFORE_COMMENT_RE = re.compile(r"(?:[^'#\n]|'[^'\n]*')*")
_BLANKS_RE = re.compile(r"\s*")


class _Unusual(Exception):
    """The fast path declines this file."""


def _no_duplicates(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _Unusual
    return members


def _refuse(text: str) -> object:
    raise _Unusual  # a number, NaN or Infinity


_DECODER = None


def _decoder() -> object:
    global _DECODER
    if _DECODER is None:
        import json

        _DECODER = json.JSONDecoder(
            object_pairs_hook=_no_duplicates,
            parse_int=_refuse,
            parse_float=_refuse,
            parse_constant=_refuse,
        )
    return _DECODER


def _plan_fast_parse(text: str) -> list[_PlanItem] | None:
    try:
        return _plan(text)
    except (_Unusual, ValueError, RecursionError):
        return None


def _plan(text: str) -> list[_PlanItem]:
    text = "\n" + text  # see _DOC_DELIMITER_RE; positions below are in this text
    plan: list[_PlanItem] = []
    position = 0  # start of the text not yet planned
    line = 0  # its line number (the added newline ends line 0)
    delimiters = _DOC_DELIMITER_RE.finditer(text)
    for opening in delimiters:
        closing = next(delimiters, None)
        if closing is None or opening.group(1).lstrip() != "##":
            raise _Unusual
        if closing.group(1).lstrip() != "##":
            raise _Unusual
        code = text[position : opening.start()]
        _plan_code(code, line, plan)
        line += code.count("\n") + 1
        body = text[opening.end() : closing.start()]
        if _NOT_A_COMMENT_LINE_RE.search(body):
            raise _Unusual  # a doc comment must end with '##'
        if _LEADING_BLANK_RE.search(body):
            comments = [comment.lstrip() for comment in body.split("\n")]
        else:
            comments = body.split("\n")
        del comments[0]  # the rest of the opening line: nothing
        plan.append((line, comments))
        line += len(comments) + 1
        position = closing.end()
    _plan_code(text[position:], line, plan)
    return plan


def _plan_code(code: str, first_line: int, plan: list[_PlanItem]) -> None:
    """Decode the expressions in ``code`` (text with plain comments, no doc comments)."""
    if "#" in code:
        code = _COMMENT_LINE_RE.sub("\n", code)
        if "#" in code:
            code = "\n".join(_strip_trailing_comment(line) for line in code.split("\n"))
    if _UNUSUAL_RE.search(code):
        raise _Unusual
    # JSON has what QAPI lacks: numbers (refused by the decoder's hooks) and null.
    if "null" in code and _NOT_JSON_OF_QAPI_RE.search(_QAPI_STRING_RE.sub("", code)):
        raise _Unusual
    json_text = code.replace("'", '"')
    decode = _decoder().raw_decode  # type: ignore[attr-defined]
    skip = _BLANKS_RE.match
    index = skip(json_text, 0).end()  # type: ignore[union-attr]
    end = len(json_text)
    line = first_line
    counted = 0
    while index < end:
        if json_text[index] != "{":
            raise _Unusual
        line += json_text.count("\n", counted, index)
        counted = index
        value, index = decode(json_text, index)
        plan.append((line, value))
        index = skip(json_text, index).end()  # type: ignore[union-attr]


def _strip_trailing_comment(line: str) -> str:
    code = _CODE_BEFORE_COMMENT_RE.match(line).group(0)  # type: ignore[union-attr]
    comment = line[len(code) :]
    if comment and (comment[0] != "#" or comment.startswith("##")):
        raise _Unusual  # a doc comment after code, or an unterminated string
    return code


class _LinePosition:
    """Positions for doc comment errors on the fast path (the line's '#')."""

    def __init__(self, parser: _FileParser, text: str) -> None:
        self.parser = parser
        self.text = text
        self.line = 1

    def move_to(self, line: int) -> None:
        self.line = line

    def parse_error(self, message: str) -> SchemaParseError:
        start = 0
        for _ in range(self.line - 1):
            start = self.text.index("\n", start) + 1
        text = self.text[start : self.text.index("\n", start)]
        col = 1
        for ch in text[: len(text) - len(text.lstrip())]:
            col = (col + 7) % 8 + 1 if ch == "\t" else col + 1
        self.parser.line = self.line
        return SchemaParseError(self.parser.info_here(), message, col)
