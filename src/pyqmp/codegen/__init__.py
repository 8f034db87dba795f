"""Code generated from a QAPI schema.

:mod:`.python` writes the typed Python API of a schema: its types as ``msgspec``
structs and ``Literal`` enums, a ``Protocol`` of command handlers, an event emitter,
and the tables the server's dispatcher reads.  Generated code is an output: it is
regenerated, never edited.
"""
