"""The QAPI schema compiler: read, check and resolve schemas, QEMU's own included.

``load_schema(path)`` runs the stages — :mod:`.reader` (source to expressions and doc
comments), :mod:`.exprs` (shape of each definition), :mod:`.builder` (whole-schema
resolution and checks) — and returns an immutable :class:`~.model.Schema`.
``check_schema(path)`` runs the same stages and stops before the immutable model is
made.  Both reject what QEMU's front end rejects, with the same ``FILE:LINE: message``.
Outputs are visitors over the model: :mod:`.introspect` (``query-qmp-schema``).

Importing this package is cheap (``schema check`` is timed as a whole process): the
stages, and the ``typing`` machinery of the model, load on first use.
"""

from __future__ import annotations

import gc

from .errors import SchemaError, SourceInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .builder import _Builder
    from .docs import DocBlock
    from .model import Schema


def load_schema(fname: str, *, fast_path: bool = True) -> Schema:
    """Read, check and resolve the schema in ``fname`` (and what it includes).

    Raises :class:`SchemaError` for an invalid schema or one that cannot be read.
    ``fast_path=False`` makes the reader use its exact parser for every file; the
    result must be the same (it exists so that tests can hold the two to it).
    """
    builder, docs = _check(fname, fast_path)
    return builder.freeze(docs)


def check_schema(fname: str, *, fast_path: bool = True) -> None:
    """Check the schema in ``fname`` as :func:`load_schema` does, keeping no model."""
    _check(fname, fast_path)


def _check(fname: str, fast_path: bool) -> tuple[_Builder, list[DocBlock]]:
    # Loading the stages and compiling allocate many small objects and free none: the
    # cyclic garbage collector would only rescan them, again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        from .builder import check_definitions
        from .exprs import check_exprs
        from .reader import read_schema_file

        try:
            parsed = read_schema_file(fname, fast_path)
        except OSError as err:
            reason = err.strerror or str(err)
            raise SchemaError(None, f"can't read schema file '{fname}': {reason}") from None
        check_exprs(parsed.exprs)
        return check_definitions(fname, parsed.exprs), parsed.docs
    finally:
        if collecting:
            gc.enable()


def __getattr__(name: str) -> object:
    if name == "Schema":
        from .model import Schema

        return Schema
    raise AttributeError(name)


__all__ = ["Schema", "SchemaError", "SourceInfo", "check_schema", "load_schema"]
