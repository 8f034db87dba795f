"""The QAPI schema compiler: read, check and resolve schemas, QEMU's own included.

``load_schema(path)`` runs the stages — :mod:`.reader` (source to expressions and doc
comments), :mod:`.exprs` (shape of each definition), :mod:`.builder` (whole-schema
resolution and checks) — and returns an immutable :class:`~.model.Schema`.  It rejects
what QEMU's front end rejects, with the same ``FILE:LINE: message``.  Outputs are
visitors over the model: :mod:`.introspect` (``query-qmp-schema``).
"""

from __future__ import annotations

import gc

from .errors import SchemaError, SourceInfo
from .model import Schema


def load_schema(fname: str, *, fast_path: bool = True) -> Schema:
    """Read, check and resolve the schema in ``fname`` (and what it includes).

    Raises :class:`SchemaError` for an invalid schema or one that cannot be read.
    ``fast_path=False`` makes the reader use its exact parser for every file; the
    result must be the same (it exists so that tests can hold the two to it).
    """
    from .builder import build_schema
    from .exprs import check_exprs
    from .reader import read_schema_file

    # Compiling allocates many small objects and frees none: the cyclic garbage
    # collector would only rescan them, again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            parsed = read_schema_file(fname, fast_path)
        except OSError as err:
            reason = err.strerror or str(err)
            raise SchemaError(None, f"can't read schema file '{fname}': {reason}") from None
        check_exprs(parsed.exprs)
        return build_schema(fname, parsed.exprs, parsed.docs)
    finally:
        if collecting:
            gc.enable()


__all__ = ["Schema", "SchemaError", "SourceInfo", "load_schema"]
