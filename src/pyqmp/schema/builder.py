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

from .commands import Command, CommandFlags, Event
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

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from . import model
    from .source import TopLevelExpr

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
        self.define(ObjectType("q_empty", None, local_members=[]))
        qtype_values = [EnumValue(name, None) for name in _QTYPE_VALUES]
        self.define(EnumType("QType", None, members=qtype_values, prefix="QTYPE"))

    def make_features(self, features: Any, info: SourceInfo) -> list[FeatureMember]:
        if not features:
            return []
        return [FeatureMember(f["name"], info, ifcond=f.get("if")) for f in features]

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
            self.define(ObjectType(name, info, ifcond=ifcond, local_members=members))
        return name

    def make_arg_type(
        self, name: str, data: Any, info: SourceInfo, ifcond: model.Condition
    ) -> str | None:
        """A command's or event's ``data``: a type name, or members made into an implicit
        ``q_obj_NAME-arg`` type."""
        if not isinstance(data, dict):
            return data  # type: ignore[no-any-return]
        return self.make_implicit_object_type(
            name, info, ifcond, "arg", self.make_members(data, info)
        )

    def make_member(self, key: str, value: Any, info: SourceInfo) -> ObjectMember:
        optional = key.startswith("*")
        if optional:
            key = key[1:]
        type_name = value["type"]
        if isinstance(type_name, list):
            type_name = self.make_array_type(type_name[0], info)
        if len(value) == 1:  # only a type: most members
            return ObjectMember(key, info, type_name, optional=optional)
        return ObjectMember(
            key,
            info,
            type_name,
            optional=optional,
            ifcond=value.get("if"),
            features=self.make_features(value.get("features"), info),
        )

    def make_enum_value(self, value: dict[str, Any], info: SourceInfo) -> EnumValue:
        return EnumValue(
            value["name"],
            info,
            ifcond=value.get("if"),
            features=self.make_features(value.get("features"), info),
        )

    def make_members(self, data: dict[str, Any], info: SourceInfo) -> list[ObjectMember]:
        return [self.make_member(key, value, info) for key, value in data.items()]

    def make_variants(self, data: dict[str, Any], info: SourceInfo) -> list[Branch]:
        variants = []
        for key, value in data.items():
            type_name = value["type"]
            if isinstance(type_name, list):
                type_name = self.make_array_type(type_name[0], info)
            variants.append(Branch(key, info, type_name, ifcond=value.get("if")))
        return variants

    def define_expr(self, expr: dict[str, Any], info: SourceInfo, doc: DocBlock | None) -> None:
        ifcond = expr.get("if")
        if "include" in expr:
            self.define(Include(self.make_module(expr["include"]), info))
            return
        features = self.make_features(expr.get("features"), info)
        if "enum" in expr:
            values = [
                EnumValue(v["name"], info) if len(v) == 1 else self.make_enum_value(v, info)
                for v in expr["data"]
            ]
            self.define(
                EnumType(
                    expr["enum"],
                    info,
                    doc=doc,
                    ifcond=ifcond,
                    features=features,
                    members=values,
                    prefix=expr.get("prefix"),
                )
            )
        elif "struct" in expr:
            self.define(
                ObjectType(
                    expr["struct"],
                    info,
                    doc=doc,
                    ifcond=ifcond,
                    features=features,
                    base=expr.get("base"),
                    local_members=self.make_members(expr["data"], info),
                )
            )
        elif "union" in expr:
            name = expr["union"]
            base = expr["base"]
            if isinstance(base, dict):
                base = self.make_implicit_object_type(
                    name, info, ifcond, "base", self.make_members(base, info)
                )
            branches = self.make_variants(expr["data"], info)
            self.define(
                ObjectType(
                    name,
                    info,
                    doc=doc,
                    ifcond=ifcond,
                    features=features,
                    base=base,
                    local_members=[],
                    variants=Variants.union(expr["discriminator"], info, branches),
                )
            )
        elif "alternate" in expr:
            branches = self.make_variants(expr["data"], info)
            self.define(
                AlternateType(
                    expr["alternate"],
                    info,
                    doc=doc,
                    ifcond=ifcond,
                    features=features,
                    variants=Variants.alternate(info, branches),
                )
            )
        elif "command" in expr:
            name = expr["command"]
            data = self.make_arg_type(name, expr.get("data"), info, ifcond)
            returns = expr.get("returns")
            if isinstance(returns, list):
                returns = self.make_array_type(returns[0], info)
            self.define(
                Command(
                    name,
                    info,
                    doc=doc,
                    ifcond=ifcond,
                    features=features,
                    arg_type=data,
                    ret_type=returns,
                    flags=CommandFlags.of(expr),
                )
            )
        else:
            name = expr["event"]
            data = self.make_arg_type(name, expr.get("data"), info, ifcond)
            self.define(
                Event(
                    name,
                    info,
                    doc=doc,
                    ifcond=ifcond,
                    features=features,
                    arg_type=data,
                    boxed=expr.get("boxed", False),
                )
            )

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
            fname=self.fname,
            types=types,
            commands=commands,
            events=events,
            modules=tuple(
                model.Module(name=name, definitions=tuple(names))
                for name, names in self.modules.items()
            ),
            docs=tuple(doc.freeze() for doc in docs),
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
