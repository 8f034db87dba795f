"""Reference documentation from a schema's doc comments (``pyqmp schema doc``).

:mod:`.catalog` turns the resolved schema into entries (one per command, event and named
type, with members, features, conditions and cross-references); :mod:`.markup` reads
QEMU's reST-like doc markup; :mod:`.html` and :mod:`.markdown` write the manual, escaping
every piece of doc text for their format.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyqmp.schema.model import Schema

FORMATS = ("html", "markdown")


def write_manual(
    schema: Schema,
    out_dir: str,
    fmt: str = "html",
    title: str | None = None,
    progress: Callable[[str], None] = lambda _step: None,
) -> list[str]:
    """Write the manual of ``schema`` into ``out_dir`` in ``fmt``; return the files written.

    ``progress`` is told each page as it is written.  Raises OSError if writing fails.
    """
    import os

    from .catalog import build_catalog

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    schema_name = os.path.basename(schema.fname)
    title = title or f"{schema_name} reference"
    catalog = build_catalog(schema)
    if fmt == "markdown":
        from .markdown import write_markdown

        return write_markdown(catalog, out_dir, title)
    from .html import write_html

    return write_html(catalog, out_dir, title, schema_name, progress)
