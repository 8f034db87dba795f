"""Where things are in a schema, and the errors that point there.

Every schema error carries a :class:`SourceInfo`: the file, the line, the chain of
``include`` directives that led to the file, and the definition being checked.  Its
text is exactly what QEMU's schema front end prints, so that a user (and QEMU's own
test suite) sees the same ``FILE:LINE: message`` for the same mistake.
"""

from __future__ import annotations


class Pragma:
    """The schema-wide settings of ``pragma`` directives.

    One object is shared by every file of a schema, as in QEMU: a pragma anywhere
    applies to every definition checked after all files have been read.
    """

    __slots__ = (
        "command_name_exceptions",
        "command_returns_exceptions",
        "doc_required",
        "member_name_exceptions",
    )

    def __init__(self) -> None:
        self.doc_required = False
        self.command_name_exceptions: frozenset[str] = frozenset()
        self.command_returns_exceptions: frozenset[str] = frozenset()
        self.member_name_exceptions: frozenset[str] = frozenset()


class SourceInfo:
    """A position in a schema source file.

    ``defn_meta``/``defn_name`` name the definition this position belongs to once the
    expression checker has seen its name; errors then get QEMU's ``In struct 'X':``
    context line.
    """

    __slots__ = ("defn_meta", "defn_name", "fname", "line", "parent", "pragma")

    def __init__(self, fname: str, line: int, parent: SourceInfo | None, pragma: Pragma) -> None:
        self.fname = fname
        self.line = line
        self.parent = parent
        self.pragma = pragma
        self.defn_meta: str | None = None
        self.defn_name: str | None = None

    def set_defn(self, meta: str, name: str) -> None:
        self.defn_meta = meta
        self.defn_name = name

    def loc(self) -> str:
        return f"{self.fname}:{self.line}"

    def in_defn(self) -> str:
        if self.defn_name:
            return f"{self.fname}: In {self.defn_meta} '{self.defn_name}':\n"
        return ""

    def include_path(self) -> str:
        text = ""
        parent = self.parent
        while parent is not None:
            text = f"In file included from {parent.loc()}:\n" + text
            parent = parent.parent
        return text

    def __str__(self) -> str:
        return self.include_path() + self.in_defn() + self.loc()

    def __repr__(self) -> str:
        return f"SourceInfo({self.fname!r}, {self.line})"


class SchemaError(Exception):
    """A schema that QEMU's front end would reject, or that cannot be read.

    ``str()`` gives the complete message as QEMU prints it, context lines included.
    """

    def __init__(self, info: SourceInfo | None, message: str, col: int | None = None) -> None:
        super().__init__(message)
        self.info = info
        self.message = message
        self.col = col

    @property
    def line(self) -> int | None:
        return self.info.line if self.info is not None else None

    def __str__(self) -> str:
        if self.info is None:
            return self.message
        loc = str(self.info)
        if self.col is not None:
            loc += f":{self.col}"
        return f"{loc}: {self.message}"


class SchemaParseError(SchemaError):
    """A lexical or syntactic error, positioned at a line and column."""
