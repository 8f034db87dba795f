"""Build and resolve the schema model (stage three of the compiler).

Turns checked expressions into entities, resolves every type reference, and runs the
checks that need the whole schema: unknown types, member clashes (in C spelling, as
QEMU), union discriminators and branches, alternate ambiguity, base cycles, command and
event argument kinds, doc comments against what they document.  Entities are checked
in definition order, implicit types (``q_obj_<name>-arg``, ``<Type>List``) just before
their user, so the first error is the one QEMU reports.  The result is an immutable
:class:`~pyqmp.schema.model.Schema`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .commands import Command, Event
from .docs import DocBlock
from .entities import (
    AlternateType,
    ArrayType,
    BuiltinType,
    Entity,
    EnumType,
    Include,
    ObjectType,
    Type,
    Variants,
)
from .errors import SchemaError, SourceInfo
from .members import Branch, EnumValue, FeatureMember, ObjectMember
from .reader import TopLevelExpr

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from typing import Any

    from . import model

BUILTIN_MODULE = "./builtin"
BUILTIN_TYPES = (
    ("str", "string"),
    ("number", "number"),
    ("int", "int"),
    ("int8", "int"),
    ("int16", "int"),
    ("int32", "int"),
    ("int64", "int"),
    ("uint8", "int"),
    ("uint16", "int"),
    ("uint32", "int"),
    ("uint64", "int"),
    ("size", "int"),
    ("bool", "boolean"),
    ("any", "value"),
    ("null", "null"),
)
_QTYPE_VALUES = ("none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool")


# -- the builder --------------------------------------------------------------------------


class _Builder:
    def __init__(self, fname: str) -> None:
        self.fname = fname
        self.schema_dir = os.path.dirname(fname)
        self.entity_list: list[Entity] = []
        self.entities: dict[str, Entity] = {}
        self.module_names: dict[str, str] = {}  # file name -> module name
        self.modules: dict[str, list[str]] = {}
        self.predefining = True
        self.make_module(BUILTIN_MODULE)
        self.make_module(fname)
        self.define_predefineds()
        self.predefining = False

    # modules

    def module_name(self, fname: str) -> str:
        name = self.module_names.get(fname)
        if name is None:
            name = fname if fname.startswith("./") else os.path.relpath(fname, self.schema_dir)
            self.module_names[fname] = name
        return name

    def make_module(self, fname: str) -> str:
        name = self.module_name(fname)
        self.modules.setdefault(name, [])
        return name

    # definitions

    def define(self, entity: Entity) -> None:
        self.entity_list.append(entity)
        if isinstance(entity, Include):
            return
        other = self.entities.get(entity.name)
        if other is not None:
            if other.info is not None:
                where = SchemaError(other.info, "previous definition")
                raise SchemaError(entity.info, f"'{entity.name}' is already defined\n{where}")
            raise SchemaError(entity.info, f"{other.describe()} is already defined")
        self.entities[entity.name] = entity

    def resolve_type(
        self, name: str, info: SourceInfo | None, what: str | Callable[[], str]
    ) -> Type:
        entity = self.entities.get(name)
        if not isinstance(entity, Type):
            what = what if isinstance(what, str) else what()
            raise SchemaError(info, f"{what} uses unknown type '{name}'")
        return entity

    def define_predefineds(self) -> None:
        for name, json_type in BUILTIN_TYPES:
            self.define(BuiltinType(name, json_type))
            self.make_array_type(name, None)
        self.define(ObjectType("q_empty", None, None, None, None, None, [], None))
        qtype_values = [EnumValue(n, None, None, []) for n in _QTYPE_VALUES]
        self.define(EnumType("QType", None, None, None, [], qtype_values, "QTYPE"))

    def make_features(self, features: Any, info: SourceInfo) -> list[FeatureMember]:
        if not features:
            return []
        return [FeatureMember(f["name"], info, f.get("if")) for f in features]

    def make_array_type(self, element_type: str, info: SourceInfo | None) -> str:
        name = element_type + "List"
        if not isinstance(self.entities.get(name), Type):
            self.define(ArrayType(name, info, element_type))
        return name

    def make_implicit_object_type(
        self,
        name: str,
        info: SourceInfo,
        ifcond: model.Condition,
        role: str,
        members: list[ObjectMember],
    ) -> str | None:
        if not members:
            return None
        name = f"q_obj_{name}-{role}"
        if not isinstance(self.entities.get(name), ObjectType):
            self.define(ObjectType(name, info, None, ifcond, None, None, members, None))
        return name

    def make_member(self, key: str, value: Any, info: SourceInfo) -> ObjectMember:
        optional = key.startswith("*")
        if optional:
            key = key[1:]
        type_name = value["type"]
        if isinstance(type_name, list):
            type_name = self.make_array_type(type_name[0], info)
        return ObjectMember(
            key,
            info,
            type_name,
            optional,
            value.get("if"),
            self.make_features(value.get("features"), info),
        )

    def make_members(self, data: dict[str, Any], info: SourceInfo) -> list[ObjectMember]:
        return [self.make_member(key, value, info) for key, value in data.items()]

    def make_variants(self, data: dict[str, Any], info: SourceInfo) -> list[Branch]:
        variants = []
        for key, value in data.items():
            type_name = value["type"]
            if isinstance(type_name, list):
                type_name = self.make_array_type(type_name[0], info)
            variants.append(Branch(key, info, type_name, value.get("if")))
        return variants

    def define_expr(self, expr: dict[str, Any], info: SourceInfo, doc: DocBlock | None) -> None:
        ifcond = expr.get("if")
        if "include" in expr:
            self.define(Include(self.make_module(expr["include"]), info))
            return
        features = self.make_features(expr.get("features"), info)
        if "enum" in expr:
            values = [
                EnumValue(v["name"], info, v.get("if"), self.make_features(v.get("features"), info))
                for v in expr["data"]
            ]
            self.define(
                EnumType(expr["enum"], info, doc, ifcond, features, values, expr.get("prefix"))
            )
        elif "struct" in expr:
            members = self.make_members(expr["data"], info)
            self.define(
                ObjectType(
                    expr["struct"], info, doc, ifcond, features, expr.get("base"), members, None
                )
            )
        elif "union" in expr:
            name = expr["union"]
            base = expr["base"]
            if isinstance(base, dict):
                base = self.make_implicit_object_type(
                    name, info, ifcond, "base", self.make_members(base, info)
                )
            variants = self.make_variants(expr["data"], info)
            self.define(
                ObjectType(
                    name,
                    info,
                    doc,
                    ifcond,
                    features,
                    base,
                    [],
                    Variants(expr["discriminator"], info, None, variants),
                )
            )
        elif "alternate" in expr:
            variants = self.make_variants(expr["data"], info)
            tag_member = ObjectMember("type", info, "QType", False)
            self.define(
                AlternateType(
                    expr["alternate"],
                    info,
                    doc,
                    ifcond,
                    features,
                    Variants(None, info, tag_member, variants),
                )
            )
        elif "command" in expr:
            name = expr["command"]
            data = expr.get("data")
            if isinstance(data, dict):
                data = self.make_implicit_object_type(
                    name, info, ifcond, "arg", self.make_members(data, info)
                )
            returns = expr.get("returns")
            if isinstance(returns, list):
                returns = self.make_array_type(returns[0], info)
            flags = {
                "gen": expr.get("gen", True),
                "success-response": expr.get("success-response", True),
                "boxed": expr.get("boxed", False),
                "allow-oob": expr.get("allow-oob", False),
                "allow-preconfig": expr.get("allow-preconfig", False),
                "coroutine": expr.get("coroutine", False),
            }
            self.define(Command(name, info, doc, ifcond, features, data, returns, flags))
        else:
            name = expr["event"]
            data = expr.get("data")
            if isinstance(data, dict):
                data = self.make_implicit_object_type(
                    name, info, ifcond, "arg", self.make_members(data, info)
                )
            self.define(Event(name, info, doc, ifcond, features, data, expr.get("boxed", False)))

    def check(self) -> None:
        for entity in self.entity_list:
            entity.check(self)
            entity.connect_doc()
            entity.check_doc()
        for entity in self.entity_list:
            if isinstance(entity, Include):
                continue
            info = entity.module_info()
            fname = info.fname if info is not None else BUILTIN_MODULE
            self.modules[self.module_name(fname)].append(entity.name)

    def freeze(self, docs: list[DocBlock]) -> model.Schema:
        from . import model

        types: dict[str, model.SchemaType] = {}
        commands: dict[str, model.Command] = {}
        events: dict[str, model.Event] = {}
        for entity in self.entity_list:
            if isinstance(entity, Include):
                continue
            frozen = entity.freeze()
            if isinstance(entity, Command):
                commands[entity.name] = frozen
            elif isinstance(entity, Event):
                events[entity.name] = frozen
            else:
                types[entity.name] = frozen
        return model.Schema(
            self.fname,
            types,
            commands,
            events,
            tuple(model.Module(name, tuple(names)) for name, names in self.modules.items()),
            tuple(doc.freeze() for doc in docs),
        )


def check_definitions(fname: str, exprs: list[TopLevelExpr]) -> _Builder:
    """Define, resolve and check every entity (all that ``schema check`` needs)."""
    builder = _Builder(fname)
    for expr, info, doc in exprs:
        builder.define_expr(expr, info, doc)
    builder.check()
    return builder


def build_schema(fname: str, exprs: list[TopLevelExpr], docs: list[DocBlock]) -> model.Schema:
    """Define, resolve and check every entity; return the frozen model."""
    return check_definitions(fname, exprs).freeze(docs)
