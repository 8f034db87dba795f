"""The resolved schema: an immutable, typed model of every definition.

This is what the rest of pyqmp reads — bindings, validation, introspection, docs,
diff.  Every entity is a ``NamedTuple`` (immutable, cheap to build) and refers to other
types by name; :class:`Schema` maps names to entities, and every name used is
guaranteed to resolve.  Each definition keeps the :class:`SourceInfo` it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from .errors import SourceInfo

# An 'if' condition as written, after checking: a name, or {'all'|'any': [...]},
# or {'not': cond}.  None means unconditional.
Condition = str | Mapping[str, object] | None


def condition_holds(cond: Condition, defines: frozenset[str]) -> bool:
    """Evaluate ``cond`` with the names in ``defines`` true and every other false."""
    if cond is None:
        return True
    if isinstance(cond, str):
        return cond in defines
    if "not" in cond:
        return not condition_holds(cond["not"], defines)  # type: ignore[arg-type]
    if "all" in cond:
        return all(condition_holds(c, defines) for c in cond["all"])  # type: ignore[attr-defined]
    return any(condition_holds(c, defines) for c in cond["any"])  # type: ignore[attr-defined]


class Doc(NamedTuple):
    """A doc comment: for a definition (``symbol`` set) or free-form (headings, prose).

    ``body`` is the text before any section; ``members`` and ``features`` map names to
    their descriptions; ``sections`` are the tagged (``Returns``, ``Since``, ``Note``...)
    and untagged (``None``) sections after them, in order.
    """

    symbol: str | None
    body: str
    members: Mapping[str, str]
    features: Mapping[str, str]
    sections: tuple[tuple[str | None, str], ...]
    info: SourceInfo


class Feature(NamedTuple):
    name: str
    ifcond: Condition
    info: SourceInfo | None

    @property
    def is_special(self) -> bool:
        return self.name in ("deprecated", "unstable")


class EnumMember(NamedTuple):
    name: str
    ifcond: Condition
    features: tuple[Feature, ...]
    info: SourceInfo | None


class ObjectMember(NamedTuple):
    name: str
    type: str
    optional: bool
    ifcond: Condition
    features: tuple[Feature, ...]
    defined_in: str
    info: SourceInfo | None


class Variant(NamedTuple):
    """A union or alternate branch: ``name`` is the tag value or branch name."""

    name: str
    type: str
    ifcond: Condition
    info: SourceInfo | None


class BuiltinType(NamedTuple):
    name: str
    json_type: str
    meta: str = "built-in"


class EnumType(NamedTuple):
    name: str
    info: SourceInfo | None
    doc: Doc | None
    ifcond: Condition
    features: tuple[Feature, ...]
    members: tuple[EnumMember, ...]
    prefix: str | None
    meta: str = "enum"


class ArrayType(NamedTuple):
    name: str
    info: SourceInfo | None
    element_type: str
    ifcond: Condition  # the element type's
    meta: str = "array"


class ObjectType(NamedTuple):
    """A struct or union; implicit ones (``q_obj_*``, ``q_empty``) have no doc."""

    name: str
    info: SourceInfo | None
    doc: Doc | None
    ifcond: Condition
    features: tuple[Feature, ...]
    base: str | None
    local_members: tuple[ObjectMember, ...]
    members: tuple[ObjectMember, ...]  # base members first, then local ones
    tag: str | None
    variants: tuple[Variant, ...] | None
    meta: str  # 'struct' or 'union'

    @property
    def is_implicit(self) -> bool:
        return self.name.startswith("q_")


class AlternateType(NamedTuple):
    name: str
    info: SourceInfo | None
    doc: Doc | None
    ifcond: Condition
    features: tuple[Feature, ...]
    variants: tuple[Variant, ...]
    meta: str = "alternate"


class Command(NamedTuple):
    name: str
    info: SourceInfo | None
    doc: Doc | None
    ifcond: Condition
    features: tuple[Feature, ...]
    arg_type: str | None
    ret_type: str | None
    gen: bool
    success_response: bool
    boxed: bool
    allow_oob: bool
    allow_preconfig: bool
    coroutine: bool
    meta: str = "command"


class Event(NamedTuple):
    name: str
    info: SourceInfo | None
    doc: Doc | None
    ifcond: Condition
    features: tuple[Feature, ...]
    arg_type: str | None
    boxed: bool
    meta: str = "event"


SchemaType = BuiltinType | EnumType | ArrayType | ObjectType | AlternateType
Definition = SchemaType | Command | Event


class Module(NamedTuple):
    """A source file, and the definitions it holds in order."""

    name: str
    definitions: tuple[str, ...]


class Schema(NamedTuple):
    """A whole checked schema."""

    fname: str
    types: Mapping[str, SchemaType]
    commands: Mapping[str, Command]
    events: Mapping[str, Event]
    modules: tuple[Module, ...]  # built-in module first, then in order of inclusion
    docs: tuple[Doc, ...]

    def lookup_type(self, name: str) -> SchemaType:
        return self.types[name]

    def definitions_in_order(self) -> list[Definition]:
        """Commands, events and types, module by module, in definition order."""
        result: list[Definition] = []
        for module in self.modules:
            for name in module.definitions:
                result.append(self.commands.get(name) or self.events.get(name) or self.types[name])
        return result
