"""QEMU's full QAPI schema (``qapi/qapi-schema.json``): it loads, and both readers agree on it.

The fast reader reads all of QEMU's files; the exact parser is the reference.  They must give
the same model, the same introspection (masked and not, with and without ``if`` symbols
defined) and the same doc comments.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pyqmp.schema import SourceInfo, load_schema
from pyqmp.schema.introspect import introspect_schema
from pyqmp.schema.model import Condition, Doc, Schema


@pytest.fixture(scope="module")
def schemas(qemu_source: Path) -> dict[bool, Schema]:
    """QEMU's schema, read by the fast path (True) and by the exact parser (False)."""
    path = str(qemu_source / "qapi" / "qapi-schema.json")
    return {fast_path: load_schema(path, fast_path=fast_path) for fast_path in (True, False)}


def condition_names(cond: Condition) -> set[str]:
    if cond is None:
        return set()
    if isinstance(cond, str):
        return {cond}
    names: set[str] = set()
    for key, operand in cond.items():
        for sub in [operand] if key == "not" else operand:  # type: ignore[union-attr]
            names |= condition_names(sub)  # type: ignore[arg-type]
    return names


def all_condition_names(schema: Schema) -> frozenset[str]:
    """Every configuration symbol some ``if`` in the schema mentions."""
    names: set[str] = set()
    for definition in schema.definitions_in_order():
        names |= condition_names(getattr(definition, "ifcond", None))
        parts = [
            *getattr(definition, "members", ()),
            *(getattr(definition, "variants", None) or ()),
            *getattr(definition, "features", ()),
        ]
        for part in parts:
            names |= condition_names(part.ifcond)
    return frozenset(names)


def plain(value: Any) -> Any:
    """``value`` with source positions as (file, line) pairs, so that models compare equal."""
    if isinstance(value, SourceInfo):
        return (value.fname, value.line, plain(value.parent))
    if isinstance(value, tuple):
        return tuple(plain(item) for item in value)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def doc_texts(doc: Doc) -> tuple[Any, ...]:
    return (
        doc.symbol,
        doc.body,
        dict(doc.members),
        dict(doc.features),
        doc.sections,
        doc.info.fname,
        doc.info.line,
    )


def test_loads_with_plausible_counts(schemas: dict[bool, Schema]) -> None:
    schema = schemas[True]
    assert len(schema.commands) > 200
    assert len(schema.events) > 40
    assert len(schema.types) > 500
    assert {"qmp_capabilities", "query-qmp-schema", "query-status", "quit"} <= set(schema.commands)
    assert {"SHUTDOWN", "STOP", "RESUME"} <= set(schema.events)
    assert schema.types["int8"].json_type == "int"  # type: ignore[union-attr]
    # every included file is a module, the built-in one first
    assert schema.modules[0].name == "./builtin"
    assert len(schema.modules) > 30


def test_every_definition_has_a_source_position(schemas: dict[bool, Schema]) -> None:
    schema = schemas[True]
    for definition in [*schema.commands.values(), *schema.events.values()]:
        assert definition.info is not None
        assert definition.info.line >= 1
        assert definition.info.fname.endswith(".json")


def test_same_definitions_on_both_paths(schemas: dict[bool, Schema]) -> None:
    fast, exact = schemas[True], schemas[False]
    assert fast.modules == exact.modules
    assert list(fast.types) == list(exact.types)
    assert list(fast.commands) == list(exact.commands)
    assert list(fast.events) == list(exact.events)
    assert plain(fast.types) == plain(exact.types)
    assert plain(fast.commands) == plain(exact.commands)
    assert plain(fast.events) == plain(exact.events)


@pytest.mark.parametrize("unmask", [False, True], ids=["masked", "unmasked"])
def test_same_introspection_on_both_paths(schemas: dict[bool, Schema], unmask: bool) -> None:
    fast = introspect_schema(schemas[True], unmask=unmask)
    exact = introspect_schema(schemas[False], unmask=unmask)
    assert len(fast) > 700
    assert fast == exact


@pytest.mark.parametrize("unmask", [False, True], ids=["masked", "unmasked"])
def test_same_introspection_with_every_symbol_defined(
    schemas: dict[bool, Schema], unmask: bool
) -> None:
    defines = all_condition_names(schemas[True])
    assert {"CONFIG_LINUX", "TARGET_I386", "CONFIG_SPICE"} <= defines
    fast = introspect_schema(schemas[True], defines=defines, unmask=unmask)
    exact = introspect_schema(schemas[False], defines=defines, unmask=unmask)
    assert fast == exact
    # defining symbols only ever adds entries
    assert len(fast) > len(introspect_schema(schemas[True], unmask=unmask))


def test_same_doc_comments_on_both_paths(schemas: dict[bool, Schema]) -> None:
    fast, exact = schemas[True].docs, schemas[False].docs
    assert len(fast) > 500
    assert [doc_texts(doc) for doc in fast] == [doc_texts(doc) for doc in exact]


def test_doc_comments_are_attached(schemas: dict[bool, Schema]) -> None:
    schema = schemas[True]
    command = schema.commands["query-status"]
    assert command.doc is not None
    assert command.doc.symbol == "query-status"
    assert any(name == "Since" for name, _ in command.doc.sections)
    assert any(name == "Returns" for name, _ in command.doc.sections)
    headings = [doc.body for doc in schema.docs if doc.symbol is None]
    assert any(body.startswith("= ") for body in headings)
