"""The fast path of the reader: well-formed files read at the speed of C.

A well-formed file (all of QEMU's) is split with a few whole-text regular expressions
into doc comments, from '##' to '##', and runs of code with plain comments.  A run of
code is plain JSON once its quotes are swapped, so the C JSON decoder reads it;
duplicate keys are caught by a hook, numbers by the decoder's hooks, ``null`` by a
check.  Anything unusual — a double quote, an escape, a control character, a '##'
where it does not belong, any syntax error — makes :func:`plan_fast_parse` decline
the file, and the exact parser (:mod:`.exact_parser`) reads it instead, so errors are
always reported as QEMU reports them.  The plan has no side effects: includes and
pragmas are acted on only once the whole file is known to be well formed.
"""

from __future__ import annotations

import re

from .errors import SchemaParseError
from .source import column

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from .source import FileSink, JSONValue

# (first line, expression) or (line of the opening '##', the doc comment's lines)
PlanItem = tuple[int, "dict[str, JSONValue] | list[str]"]
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


def plan_fast_parse(text: str) -> list[PlanItem] | None:
    try:
        return _plan(text)
    except (_Unusual, ValueError, RecursionError):
        return None


def _plan(text: str) -> list[PlanItem]:
    text = "\n" + text  # see _DOC_DELIMITER_RE; positions below are in this text
    plan: list[PlanItem] = []
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


def _plan_code(code: str, first_line: int, plan: list[PlanItem]) -> None:
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


class LinePosition:
    """Positions for doc comment errors on the fast path (the line's '#')."""

    def __init__(self, reader: FileSink, text: str) -> None:
        self.reader = reader
        self.text = text
        self.line = 1

    def move_to(self, line: int) -> None:
        self.line = line

    def parse_error(self, message: str) -> SchemaParseError:
        start = 0
        for _ in range(self.line - 1):
            start = self.text.index("\n", start) + 1
        text = self.text[start : self.text.index("\n", start)]
        col = column(text[: len(text) - len(text.lstrip())])
        self.reader.line = self.line
        return SchemaParseError(self.reader.info_here(), message, col)
