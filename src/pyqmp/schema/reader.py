"""Read QAPI schema source: files, directives and doc comments (stage one).

Turns a file, and the files it includes, into a flat list of :class:`TopLevelExpr` —
plain dicts, lists, strings and booleans, each tagged with its :class:`SourceInfo` and
the doc comment written above it — plus the list of all doc comments.  ``include``
and ``pragma`` directives are acted on here; what definitions mean is checked later
(:mod:`.exprs`, then :mod:`.builder`).

The dialect: JSON objects, arrays, strings and ``true``/``false`` only; strings in
single quotes, printable ASCII, with ``\\\\`` the only escape; ``#`` starts a comment,
``##`` a doc comment.  Each file is read by the fast path (:mod:`.fast_reader`) when it
is well formed, else by the exact parser (:mod:`.exact_parser`), which reports errors
exactly as QEMU does.
"""

from __future__ import annotations

import errno
import os

from .docs import DocBlock
from .errors import Pragma, SchemaError, SourceInfo
from .fast_reader import LinePosition, PlanItem, plan_fast_parse
from .source import JSONValue, TopLevelExpr


class ParsedSchema:
    """What reading gives: the expressions, all doc comments, the pragmas."""

    __slots__ = ("docs", "exprs", "pragma")

    def __init__(self, exprs: list[TopLevelExpr], docs: list[DocBlock], pragma: Pragma) -> None:
        self.exprs = exprs
        self.docs = docs
        self.pragma = pragma


def read_schema_file(fname: str, fast_path: bool = True) -> ParsedSchema:
    """Read ``fname`` and everything it includes.

    Raises :class:`SchemaError` for anything QEMU would reject, and ``OSError`` if
    ``fname`` itself cannot be read.  ``fast_path=False`` reads every file with the
    exact parser (the two must agree; the tests hold them to it).
    """
    pragma = Pragma()
    exprs: list[TopLevelExpr] = []
    docs: list[DocBlock] = []
    reader = FileReader(fname, None, pragma, {os.path.abspath(fname)}, exprs, docs, fast_path)
    reader.read(_read_text(fname, None))
    return ParsedSchema(exprs, docs, pragma)


# Larger files are refused (QEMU's whole schema is 0.65 MB): a device such as
# /dev/zero must not be read until memory runs out.
MAX_FILE_SIZE = 128 << 20
# Includes nested deeper than this are refused, rather than exhausting the stack.
MAX_INCLUDE_DEPTH = 64


def _read_text(fname: str, info: SourceInfo | None) -> str:
    with open(fname, "rb") as stream:
        data = stream.read(MAX_FILE_SIZE + 1)
    if len(data) > MAX_FILE_SIZE:
        raise OSError(errno.EFBIG, f"larger than {MAX_FILE_SIZE >> 20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        where = SourceInfo(fname, line, info, Pragma())
        raise SchemaError(where, f"invalid UTF-8 (byte 0x{data[err.start]:02x})") from None
    if "\r" in text:  # QEMU reads in text mode: CR LF and a lone CR end lines too
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return text


class FileReader:
    """Reads one source file; each included file gets a reader of its own."""

    def __init__(
        self,
        fname: str,
        incl_info: SourceInfo | None,
        pragma: Pragma,
        included: set[str],
        exprs: list[TopLevelExpr],
        docs: list[DocBlock],
        fast_path: bool,
    ) -> None:
        self.fname = fname
        self.incl_info = incl_info
        self.pragma = pragma
        self.included = included
        self.exprs = exprs
        self.docs = docs
        self.fast_path = fast_path
        self.line = 1  # the line being read, for SourceInfo
        self._last_info: SourceInfo | None = None

    def info_here(self) -> SourceInfo:
        # One SourceInfo per line, as QEMU has: two definitions on one line share it
        # (and so the context of their errors).
        last = self._last_info
        if last is not None and last.line == self.line:
            return last
        info = self._last_info = SourceInfo(self.fname, self.line, self.incl_info, self.pragma)
        return info

    def read(self, text: str) -> None:
        plan = plan_fast_parse(text) if self.fast_path else None
        if plan is None:
            # Only a file the fast path declines needs the exact parser: most runs
            # never import it.
            from .exact_parser import ExactParser

            ExactParser(self, text).parse()
        else:
            self.run_plan(text, plan)

    def run_plan(self, text: str, plan: list[PlanItem]) -> None:
        """Act on a file the fast path has split into doc comments and expressions."""
        cur_doc: DocBlock | None = None
        position = LinePosition(self, text)
        for start, value in plan:
            self.line = start
            info = self.info_here()
            if isinstance(value, list):
                self.reject_expr_doc(cur_doc)
                for cur_doc in self.doc_from_lines(info, value, start, position):
                    self.docs.append(cur_doc)
                continue
            self.handle_expr(value, info, cur_doc)
            cur_doc = None
        self.reject_expr_doc(cur_doc)

    def doc_from_lines(
        self, info: SourceInfo, comments: list[str], start: int, position: LinePosition
    ) -> list[DocBlock]:
        """The doc comment opened by '##' on line ``start``: its lines, blanks as ''."""
        blocks: list[DocBlock] = []
        block = DocBlock(position, info)
        first = 0  # index in comments of the first line not yet fed
        for index, comment in enumerate(comments):
            if comment.startswith("# ="):
                block.feed(comments[first:index], start + 1 + first)
                first = index
                position.move_to(start + 1 + index)
                block = block.before_heading(blocks)
        block.feed(comments[first:], start + 1 + first)
        position.move_to(start + 1 + len(comments))
        block.end_comment()
        blocks.append(block)
        return blocks

    @staticmethod
    def reject_expr_doc(doc: DocBlock | None) -> None:
        if doc is not None and doc.symbol:
            raise SchemaError(
                doc.info, f"documentation for '{doc.symbol}' is not followed by the definition"
            )

    def handle_expr(
        self, expr: dict[str, JSONValue], info: SourceInfo, cur_doc: DocBlock | None
    ) -> None:
        """Act on a directive, or record a definition with its doc comment."""
        if "include" in expr:
            self.reject_expr_doc(cur_doc)
            self.include(expr, info)
        elif "pragma" in expr:
            self.reject_expr_doc(cur_doc)
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
            self.exprs.append((expr, info, cur_doc))  # type: ignore[arg-type]

    def include(self, expr: dict[str, JSONValue], info: SourceInfo) -> None:
        if len(expr) != 1:
            raise SchemaError(info, "invalid 'include' directive")
        include = expr["include"]
        if not isinstance(include, str):
            raise SchemaError(info, "value of 'include' must be a string")
        incl_fname = os.path.join(os.path.dirname(self.fname), include)
        self.exprs.append(({"include": incl_fname}, info, None))
        incl_abs = os.path.abspath(incl_fname)
        where: SourceInfo | None = info
        while where is not None:
            if incl_abs == os.path.abspath(where.fname):
                raise SchemaError(info, f"inclusion loop for {include}")
            where = where.parent
        if incl_abs in self.included:
            return
        depth = 0
        where = info
        while where is not None:
            depth += 1
            where = where.parent
        if depth > MAX_INCLUDE_DEPTH:
            raise SchemaError(info, f"includes nested too deeply (more than {MAX_INCLUDE_DEPTH})")
        self.included.add(incl_abs)
        try:
            text = _read_text(incl_fname, info)
        except OSError as err:
            raise SchemaError(
                info, f"can't read include file '{incl_fname}': {err.strerror}"
            ) from None
        FileReader(
            incl_fname, info, self.pragma, self.included, self.exprs, self.docs, self.fast_path
        ).read(text)

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
