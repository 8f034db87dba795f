"""Doc comments: the ``##`` blocks that document definitions and the schema.

A definition doc block starts with ``@Name:`` and has a body, member sections
(``@member: text``), feature sections (after ``Features:``) and tagged sections
(``Returns:``, ``Since:``, ``Note:`` ...).  A free-form block holds prose and headings.
The rules and error messages follow QEMU's doc comment grammar
(``docs/devel/qapi-code-gen.rst``, "Documentation comments").
"""

from __future__ import annotations

import re

from .errors import SchemaError, SourceInfo

SECTION_TAGS = frozenset(
    ("Returns:", "Since:", "Note:", "Notes:", "Example:", "Examples:", "TODO:")
)
_ARG_HEADER_RE = re.compile(r"@\S*:\s*")
_TAG_HEADER_RE = re.compile(r"\S*:\s*")
_FREEFORM_SYMBOL_RE = re.compile(r"@\S+:")


TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from typing import Protocol

    from . import model

    class DocPosition(Protocol):
        """Whoever feeds lines to a doc block: it knows where the current line is."""

        def parse_error(self, message: str) -> SchemaError: ...

        def move_to(self, line: int) -> None:
            """Make ``line`` the position of the next error (a no-op where it already is)."""


class DocSection:
    """A run of doc text; ``name`` is the member, feature or tag it belongs to."""

    __slots__ = ("indent", "member_name", "name", "text")

    def __init__(self, name: str | None = None, indent: int = 0) -> None:
        self.name = name
        self.text = ""
        # text lines must be indented at least this much; it is stripped from them
        self.indent = indent
        # set when a member or feature of the definition claims this section
        self.member_name: str | None = None


_BODY, _ARGS, _FEATURES, _VARIOUS, _CLOSED = range(5)
# First characters of lines that can be more than text: '@name:', tags, 'Features:'.
_SPECIAL_START = frozenset("@RSNETF")


class DocBlock:
    """One documentation block, as QEMU's parser splits and checks it.

    The reading rules are QEMU's (``docs/devel/qapi-code-gen.rst``): a body, then
    member sections, a ``Features:`` part, and tagged sections; each line's meaning
    depends on what came before.  :meth:`feed` is one loop over many lines, since doc
    comments are most of QEMU's schema and a method call per line would be the cost.
    """

    def __init__(self, position: DocPosition, info: SourceInfo) -> None:
        self._position = position
        self.info = info
        self.symbol: str | None = None
        self.body = DocSection()
        self.args: dict[str, DocSection] = {}
        self.features: dict[str, DocSection] = {}
        self.sections: list[DocSection] = []
        self._section = self.body
        self._mode = _BODY
        self._frozen: model.Doc | None = None

    # -- reading -------------------------------------------------------------

    def has_section(self, name: str) -> bool:
        return any(section.name == name for section in self.sections)

    def append(self, comment: str) -> None:
        """Add one comment line (``#`` included), positioned where the reader is."""
        self.feed([comment], None)

    def end_comment(self) -> None:
        self._switch_section(None)

    def before_heading(self, blocks: list[DocBlock]) -> DocBlock:
        """A ``# =`` heading line comes next: refused in definition documentation, and
        it starts a new free-form block unless this one has no text yet.  The block the
        heading goes into is returned (this one, or a new one once this is in ``blocks``).
        """
        if self.symbol:
            raise self._error("unexpected '=' markup in definition documentation", None)
        if not self.body.text:
            return self
        self.end_comment()
        blocks.append(self)
        return DocBlock(self._position, self.info)

    def _error(self, message: str, line: int | None) -> SchemaError:
        if line is not None:
            self._position.move_to(line)
        return self._position.parse_error(message)

    def feed(self, comments: list[str], first_line: int | None) -> None:
        """Add comment lines, each starting with its ``#``; blank lines are ''.

        ``first_line`` is the line number of the first, for errors; None means the
        position is kept by whoever feeds (one line at a time).
        """
        section = self._section
        mode = self._mode
        text = section.text
        indent = section.indent
        # in member and feature sections, a line after a blank one may start a section
        after_blank_matters = mode in (_ARGS, _FEATURES)
        for index, comment in enumerate(comments):
            if not comment:
                continue
            second = comment[1:2]
            if second == " ":
                line = comment[2:]
            elif not second:
                line = ""
            else:
                raise self._error(
                    "missing space after #", None if first_line is None else first_line + index
                )
            if not line or (
                line[0] not in _SPECIAL_START
                and (not after_blank_matters or line[0].isspace() or not text.endswith("\n\n"))
            ):
                pass  # plain text: appended below
            else:
                # The line may start a section.  Write the current state back first.
                section.text = text
                self._section = section
                self._mode = mode
                if first_line is not None:
                    self._position.move_to(first_line + index)
                special = self._special_line(line)
                section = self._section
                mode = self._mode
                after_blank_matters = mode in (_ARGS, _FEATURES)
                text = section.text
                indent = section.indent
                if special is None:
                    continue
                line = special
                if line[:1] == "@":
                    match = _FREEFORM_SYMBOL_RE.match(line)
                    if match:
                        raise self._position.parse_error(
                            f"'{match.group(0)}' not allowed in free-form documentation"
                        )
            if indent and line:
                # at least `indent` leading blanks (QEMU counts them with \s*)
                if len(line) < indent or not line[:indent].isspace():
                    raise self._error(
                        f"unexpected de-indent (expected at least {indent} spaces)",
                        None if first_line is None else first_line + index,
                    )
                line = line[indent:]
            text += line.rstrip() + "\n"
        section.text = text
        self._section = section
        self._mode = mode

    def _special_line(self, line: str) -> str | None:
        """Act on a line that may change section; return the text to append, if any.

        Called with the current section and mode written back to ``self``.
        """
        mode = self._mode
        while True:
            name = line.split(" ", 1)[0]
            if mode == _BODY:
                if not self.symbol and not self.body.text and line.startswith("@"):
                    if not line.endswith(":"):
                        raise self._position.parse_error("line should end with ':'")
                    self.symbol = line[1:-1]
                    if not self.symbol:
                        raise self._position.parse_error("name required after '@'")
                    return None
                if not self.symbol:
                    return line
                if name.startswith("@") and name.endswith(":"):
                    mode = self._mode = _ARGS
                    continue
                if line == "Features:":
                    self._mode = _FEATURES
                    return None
                if name in SECTION_TAGS:
                    mode = self._mode = _VARIOUS
                    continue
                return line
            if mode in (_ARGS, _FEATURES):
                if name.startswith("@") and name.endswith(":"):
                    line, indent = self._symbol_header(line)
                    self._start_symbol_section(
                        self.args if mode == _ARGS else self.features, name[1:-1], indent
                    )
                    return line
                if name in SECTION_TAGS:
                    mode = self._mode = _VARIOUS
                    continue
                if self._section.text.endswith("\n\n") and line and not line[0].isspace():
                    if mode == _ARGS and line == "Features:":
                        self._mode = _FEATURES
                        return None
                    self._start_section()
                    mode = self._mode = _VARIOUS
                    continue
                return line
            if mode == _VARIOUS:
                if name.startswith("@") and name.endswith(":"):
                    raise self._position.parse_error(
                        f"'{name}' can't follow '{self.sections[0].name}' section"
                    )
                if name in SECTION_TAGS:
                    indent = _TAG_HEADER_RE.match(line).end()  # type: ignore[union-attr]
                    line = line[indent:]
                    if not line:
                        indent = 0
                    else:
                        line = " " * indent + line
                    self._start_section(name[:-1], indent)
                return line
            raise AssertionError("doc block appended to after its end")

    def _symbol_header(self, line: str) -> tuple[str, int]:
        """Split ``@name: text``; the text's column becomes the section's indent."""
        match = _ARG_HEADER_RE.match(line)
        if match is None:  # a blank other than a space inside '@name:' (QEMU crashes)
            raise self._position.parse_error("invalid parameter name")
        indent = match.end()
        rest = line[indent:]
        if not rest:
            return "", 0
        return " " * indent + rest, indent

    def _start_symbol_section(
        self, sections: dict[str, DocSection], name: str, indent: int
    ) -> None:
        if not name:
            raise self._position.parse_error("invalid parameter name")
        if name in sections:
            raise self._position.parse_error(f"'{name}' parameter name duplicated")
        section = DocSection(name, indent)
        self._switch_section(section)
        sections[name] = section

    def _start_section(self, name: str | None = None, indent: int = 0) -> None:
        if name in ("Returns", "Since") and self.has_section(name):
            raise self._position.parse_error(f"duplicated '{name}' section")
        section = DocSection(name, indent)
        self._switch_section(section)
        self.sections.append(section)

    def _switch_section(self, new_section: DocSection | None) -> None:
        section = self._section
        text = section.text = section.text.strip()
        if section is not self.body and not text:
            raise self._position.parse_error(f"empty doc section '{section.name}'")
        if new_section is not None:
            self._section = new_section
        else:
            self._mode = _CLOSED

    def freeze(self) -> model.Doc:
        """The immutable form (made once: definitions and the schema share it)."""
        if self._frozen is None:
            from . import model

            self._frozen = model.Doc(
                symbol=self.symbol,
                body=self.body.text,
                members={name: section.text for name, section in self.args.items()},
                features={name: section.text for name, section in self.features.items()},
                sections=tuple((section.name, section.text) for section in self.sections),
                info=self.info,
            )
        return self._frozen

    # -- tying to definitions ---------------------------------------------------

    def connect_member(self, name: str) -> None:
        section = self.args.get(name)
        if section is None:
            section = self.args[name] = DocSection(name)
        section.member_name = name

    def connect_feature(self, name: str, info: SourceInfo) -> None:
        section = self.features.get(name)
        if section is None:
            raise SchemaError(info, f"feature '{name}' lacks documentation")
        section.member_name = name

    def check_expr(self, meta: str) -> None:
        if meta != "command" and self.has_section("Returns"):
            raise SchemaError(self.info, "'Returns:' is only valid for commands")

    def check(self) -> None:
        for sections, what in ((self.args, "member"), (self.features, "feature")):
            bogus = [name for name, section in sections.items() if not section.member_name]
            if bogus:
                plural = len(bogus) > 1
                raise SchemaError(
                    self.info,
                    "documented {}{} '{}' {} not exist".format(
                        what, "s" if plural else "", "', '".join(bogus), "do" if plural else "does"
                    ),
                )
