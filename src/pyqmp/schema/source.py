"""What the schema readers share: the values a source holds, QEMU's column rule, and
what a parser calls back on the reader of its file.

Stage one reads each file with one of two parsers (:mod:`.fast_reader`,
:mod:`.exact_parser`) and acts on what they find in :mod:`.reader`.  The parsers import
this module and never the reader, so the three are not in a circle; whatever both
parsers do the same way (counting columns, splitting doc comments at ``# =`` headings,
in :class:`~.docs.DocBlock`) is written once.
"""

from __future__ import annotations

from .docs import DocBlock
from .errors import SourceInfo

JSONValue = dict[str, "JSONValue"] | list["JSONValue"] | str | bool

# One top-level expression with its source position and the doc comment above it.
TopLevelExpr = tuple[dict[str, object], SourceInfo, DocBlock | None]


def column(before: str) -> int:
    """The column QEMU reports for a position with ``before`` ahead of it on its line:
    1-based, a tab moving to the next multiple of 8."""
    col = 1
    for ch in before:
        col = (col + 7) % 8 + 1 if ch == "\t" else col + 1
    return col


TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from typing import Protocol

    class FileSink(Protocol):
        """What a parser needs of the reader of its file (:class:`.reader.FileReader`)."""

        line: int  # the line being read, kept current by the parser
        docs: list[DocBlock]

        def info_here(self) -> SourceInfo: ...

        def reject_expr_doc(self, doc: DocBlock | None) -> None: ...

        def handle_expr(
            self, expr: dict[str, JSONValue], info: SourceInfo, cur_doc: DocBlock | None
        ) -> None: ...
