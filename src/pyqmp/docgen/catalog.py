"""What the manual says about each definition, whatever the output format.

The catalog walks the resolved schema once: it gives every command, event and named type an
:class:`Entry` (its module, anchor, members with their types and descriptions, features,
``if`` condition, doc sections) and records, for each type, the entries that use it.
Implicit types (a command's ``q_obj_*-arg``, a union's inline base) have no entry: their
members are shown in the entry that owns them.  Every definition gets an entry, whatever its
condition; the condition is shown instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import NamedTuple

from pyqmp.schema.model import (
    AlternateType,
    ArrayType,
    BuiltinType,
    Command,
    Condition,
    Definition,
    Doc,
    EnumType,
    Event,
    Feature,
    ObjectMember,
    ObjectType,
    Schema,
)

BUILTIN_MODULE = "./builtin"


def condition_text(cond: Condition) -> str:
    """An ``if`` condition as a reader writes it: ``CONFIG_A and not (B or C)``."""
    if cond is None:
        return ""
    if isinstance(cond, str):
        return cond
    if "not" in cond:
        inner = cond["not"]
        text = condition_text(inner)  # type: ignore[arg-type]
        return f"not {text}" if isinstance(inner, str) else f"not ({text})"
    operator = "all" if "all" in cond else "any"
    parts = []
    for part in cond[operator]:  # type: ignore[attr-defined]
        text = condition_text(part)
        parts.append(text if isinstance(part, str) or "not" in part else f"({text})")
    return (" and " if operator == "all" else " or ").join(parts)


class TypeRef(NamedTuple):
    """A member's type as shown: ``name`` (the element's, for an array), and whether a list."""

    name: str
    is_list: bool


class FeatureRow(NamedTuple):
    """A feature; ``of_members`` when the definition itself lacks it and the doc comment
    describes it for some members (QEMU documents those in the same ``Features:`` part)."""

    name: str
    description: str
    condition: str
    of_members: bool = False


class MemberRow(NamedTuple):
    """A member, argument, enum value or branch, as one row of an entry's table."""

    name: str
    type: TypeRef | None
    optional: bool
    description: str
    condition: str
    features: tuple[str, ...]


class VariantRow(NamedTuple):
    """A union branch (``name`` is the tag value) or an alternate's branch."""

    name: str
    type: TypeRef
    description: str
    condition: str


class Entry(NamedTuple):
    """One definition's part of the manual."""

    name: str
    kind: str  # command, event, struct, union, enum, alternate, built-in
    module: str
    line: int  # in its source file, for ordering with free-form doc blocks
    location: str  # "file:line", or "" for built-ins
    doc: Doc | None
    condition: str
    features: tuple[FeatureRow, ...]
    members: tuple[MemberRow, ...]  # arguments, members, or enum values
    members_from: TypeRef | None  # "the members of X": a base, or a named argument type
    tag: str | None
    variants: tuple[VariantRow, ...]
    returns: TypeRef | None
    summary: str  # the body's first sentence, for the index and the search

    @property
    def anchor(self) -> str:
        return "def-" + self.name

    @property
    def marks(self) -> tuple[str, ...]:
        """``deprecated`` and ``unstable``, when the definition has those features."""
        return tuple(
            row.name
            for row in self.features
            if row.name in ("deprecated", "unstable") and not row.of_members
        )


class FreeText(NamedTuple):
    """A free-form doc block (headings and prose between definitions)."""

    module: str
    line: int
    doc: Doc


class Catalog(NamedTuple):
    entries: Mapping[str, Entry]  # by definition name, in schema order
    modules: tuple[str, ...]  # module names, built-in module first
    module_items: Mapping[str, tuple[Entry | FreeText, ...]]  # in source order
    used_by: Mapping[str, tuple[str, ...]]  # a type's name -> entry names using it

    def entry_of_type(self, name: str) -> Entry | None:
        """The entry a member of type ``name`` links to (an array's element's)."""
        return self.entries.get(name)


def build_catalog(schema: Schema) -> Catalog:
    schema_dir = os.path.dirname(schema.fname)
    entries: dict[str, Entry] = {}
    module_of: dict[str, str] = {}
    for module in schema.modules:
        for name in module.definitions:
            module_of[name] = module.name
    for definition in schema.definitions_in_order():
        if isinstance(definition, ArrayType):
            continue
        if isinstance(definition, ObjectType) and definition.is_implicit:
            continue
        entries[definition.name] = _entry(schema, definition, module_of[definition.name])

    items: dict[str, list[Entry | FreeText]] = {module.name: [] for module in schema.modules}
    for entry in entries.values():
        items[entry.module].append(entry)
    for doc in schema.docs:
        if doc.symbol is None:
            module_name = os.path.relpath(doc.info.fname, schema_dir)
            items.setdefault(module_name, []).append(FreeText(module_name, doc.info.line, doc))
    ordered = {
        module: tuple(sorted(found, key=lambda item: item.line))  # stable: ties keep order
        for module, found in items.items()
        if found
    }
    return Catalog(
        entries=entries,
        modules=tuple(ordered),
        module_items=ordered,
        used_by=_used_by(schema, entries),
    )


def type_ref(schema: Schema, name: str) -> TypeRef:
    definition = schema.types.get(name)
    if isinstance(definition, ArrayType):
        return TypeRef(definition.element_type, True)
    return TypeRef(name, False)


def _summary(doc: Doc | None) -> str:
    if doc is None or not doc.body:
        return ""
    paragraph = doc.body.strip().split("\n\n", 1)[0].replace("\n", " ")
    match = re.match(r"(.+?[.!?])(\s|$)", paragraph)
    text = match.group(1) if match else paragraph
    return text if len(text) <= 160 else text[:157] + "..."


def _features(features: tuple[Feature, ...], doc: Doc | None) -> tuple[FeatureRow, ...]:
    described = doc.features if doc is not None else {}
    own = tuple(
        FeatureRow(feature.name, described.get(feature.name, ""), condition_text(feature.ifcond))
        for feature in features
    )
    names = {feature.name for feature in features}
    of_members = tuple(
        FeatureRow(name, text, "", of_members=True)
        for name, text in described.items()
        if name not in names
    )
    return own + of_members


def _member_rows(
    schema: Schema, members: tuple[ObjectMember, ...], doc: Doc | None
) -> tuple[MemberRow, ...]:
    described = doc.members if doc is not None else {}
    return tuple(
        MemberRow(
            name=member.name,
            type=type_ref(schema, member.type),
            optional=member.optional,
            description=described.get(member.name, ""),
            condition=condition_text(member.ifcond),
            features=tuple(feature.name for feature in member.features),
        )
        for member in members
    )


def _entry(schema: Schema, definition: Definition, module: str) -> Entry:
    doc = getattr(definition, "doc", None)
    info = getattr(definition, "info", None)
    members: tuple[MemberRow, ...] = ()
    members_from: TypeRef | None = None
    tag: str | None = None
    variants: tuple[VariantRow, ...] = ()
    returns: TypeRef | None = None
    features: tuple[Feature, ...] = getattr(definition, "features", ())
    described = doc.members if doc is not None else {}
    if isinstance(definition, Command | Event):
        if definition.arg_type is not None:
            arg_type = schema.types[definition.arg_type]
            if isinstance(arg_type, ObjectType) and arg_type.is_implicit:
                members = _member_rows(schema, arg_type.members, doc)
            else:
                members_from = type_ref(schema, definition.arg_type)
        if isinstance(definition, Command) and definition.ret_type is not None:
            returns = type_ref(schema, definition.ret_type)
    elif isinstance(definition, ObjectType):
        base = schema.types.get(definition.base) if definition.base else None
        if isinstance(base, ObjectType) and base.is_implicit:
            members = _member_rows(schema, definition.members, doc)
        else:
            members = _member_rows(schema, definition.local_members, doc)
            if definition.base is not None:
                members_from = TypeRef(definition.base, False)
        tag = definition.tag
        variants = tuple(
            VariantRow(
                variant.name,
                type_ref(schema, variant.type),
                described.get(variant.name, ""),
                condition_text(variant.ifcond),
            )
            for variant in definition.variants or ()
            if variant.type != "q_empty"  # a tag value with no members of its own
        )
    elif isinstance(definition, AlternateType):
        variants = tuple(
            VariantRow(
                variant.name,
                type_ref(schema, variant.type),
                described.get(variant.name, ""),
                condition_text(variant.ifcond),
            )
            for variant in definition.variants
        )
    elif isinstance(definition, EnumType):
        members = tuple(
            MemberRow(
                name=value.name,
                type=None,
                optional=False,
                description=described.get(value.name, ""),
                condition=condition_text(value.ifcond),
                features=tuple(feature.name for feature in value.features),
            )
            for value in definition.members
        )
    return Entry(
        name=definition.name,
        kind=definition.meta,
        module=module,
        line=info.line if info is not None else 0,
        location=f"{os.path.basename(info.fname)}:{info.line}" if info is not None else "",
        doc=doc,
        condition=condition_text(getattr(definition, "ifcond", None)),
        features=_features(features, doc),
        members=members,
        members_from=members_from,
        tag=tag,
        variants=variants,
        returns=returns,
        summary=_summary(doc) if not isinstance(definition, BuiltinType) else "",
    )


def _used_by(schema: Schema, entries: Mapping[str, Entry]) -> dict[str, tuple[str, ...]]:
    """For each type, the entries (in schema order) whose members, branches, base,
    arguments or reply name it; implicit types count for the entry that owns them."""
    users: dict[str, list[str]] = {}

    def note(type_name: str | None, user: str, seen: set[str]) -> None:
        if type_name is None or type_name in seen:
            return
        seen.add(type_name)
        definition = schema.types.get(type_name)
        if isinstance(definition, ArrayType):
            note(definition.element_type, user, seen)
            return
        if isinstance(definition, ObjectType) and definition.is_implicit:
            walk(definition, user, seen)
            return
        if type_name != user:
            found = users.setdefault(type_name, [])
            if not found or found[-1] != user:
                found.append(user)

    def walk(definition: Definition, user: str, seen: set[str]) -> None:
        if isinstance(definition, Command):
            note(definition.arg_type, user, seen)
            note(definition.ret_type, user, seen)
        elif isinstance(definition, Event):
            note(definition.arg_type, user, seen)
        elif isinstance(definition, ObjectType):
            note(definition.base, user, seen)
            for member in definition.local_members:
                note(member.type, user, seen)
            for variant in definition.variants or ():
                note(variant.type, user, seen)
        elif isinstance(definition, AlternateType):
            for variant in definition.variants:
                note(variant.type, user, seen)

    for name in entries:
        definition = schema.commands.get(name) or schema.events.get(name) or schema.types[name]
        walk(definition, name, set())
    return {name: tuple(found) for name, found in users.items()}
