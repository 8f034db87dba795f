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
import re
from typing import Any

from . import model
from .docs import DocBlock
from .errors import SchemaError, SourceInfo
from .names import c_name
from .reader import TopLevelExpr

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
_JSON_TO_QTYPE = {
    "null": "QTYPE_QNULL",
    "string": "QTYPE_QSTRING",
    "number": "QTYPE_QNUM",
    "int": "QTYPE_QNUM",
    "boolean": "QTYPE_QBOOL",
    "array": "QTYPE_QLIST",
    "object": "QTYPE_QDICT",
}
_NUMERIC_START_RE = re.compile(r"[-+0-9.]")

Features = tuple[model.Feature, ...]


# -- members -----------------------------------------------------------------------------


class _Member:
    """An object member, branch, enum value or feature while it is being checked."""

    __slots__ = ("defined_in", "ifcond", "info", "name")
    role = "member"

    def __init__(self, name: str, info: SourceInfo | None, ifcond: model.Condition) -> None:
        self.name = name
        self.info = info
        self.ifcond = ifcond
        self.defined_in = ""

    def check_clash(self, info: SourceInfo | None, seen: dict[str, _Member]) -> None:
        cname = c_name(self.name)
        other = seen.get(cname)
        if other is not None:
            raise SchemaError(info, f"{self.describe(info)} collides with {other.describe(info)}")
        seen[cname] = self

    def describe(self, info: SourceInfo | None) -> str:
        role = self.role
        defined_in = self.defined_in
        if defined_in.startswith("q_obj_"):
            defined_in = defined_in[6:]
            if defined_in.endswith("-arg"):
                role = "parameter"
            elif defined_in.endswith("-base"):
                role = "base " + role
        elif info is None or defined_in != info.defn_name:
            return f"{role} '{self.name}' of type '{defined_in}'"
        return f"{role} '{self.name}'"


class _Feature(_Member):
    __slots__ = ()
    role = "feature"

    def freeze(self) -> model.Feature:
        return model.Feature(self.name, self.ifcond)


class _EnumMember(_Member):
    __slots__ = ("features",)
    role = "value"

    def __init__(
        self,
        name: str,
        info: SourceInfo | None,
        ifcond: model.Condition,
        features: list[_Feature],
    ) -> None:
        super().__init__(name, info, ifcond)
        self.features = features
        for feature in features:
            feature.defined_in = name


class _ObjectMember(_Member):
    __slots__ = ("features", "optional", "type", "type_name")

    def __init__(
        self,
        name: str,
        info: SourceInfo | None,
        type_name: str,
        optional: bool,
        ifcond: model.Condition = None,
        features: list[_Feature] | None = None,
    ) -> None:
        super().__init__(name, info, ifcond)
        self.type_name = type_name
        self.type: _Type | None = None
        self.optional = optional
        self.features = features or []
        for feature in self.features:
            feature.defined_in = name

    def check(self, schema: _Builder) -> None:
        entity = schema.entities.get(self.type_name)
        if not isinstance(entity, _Type):
            entity = schema.resolve_type(self.type_name, self.info, self.describe(self.info))
        self.type = entity
        if self.features:
            seen: dict[str, _Member] = {}
            for feature in self.features:
                feature.check_clash(self.info, seen)

    def freeze(self) -> model.ObjectMember:
        features = self.features
        return model.ObjectMember(
            self.name,
            self.type_name,
            self.optional,
            self.ifcond,
            tuple([f.freeze() for f in features]) if features else (),
            self.defined_in,
        )


class _Variant(_ObjectMember):
    __slots__ = ()
    role = "branch"

    def __init__(
        self, name: str, info: SourceInfo | None, type_name: str, ifcond: model.Condition
    ) -> None:
        super().__init__(name, info, type_name, False, ifcond)

    def freeze_variant(self) -> model.Variant:
        return model.Variant(self.name, self.type_name, self.ifcond)


# -- entities ----------------------------------------------------------------------------


class _Entity:
    meta = ""

    def __init__(
        self,
        name: str,
        info: SourceInfo | None,
        doc: DocBlock | None,
        ifcond: model.Condition = None,
        features: list[_Feature] | None = None,
    ) -> None:
        self.name = name
        self.info = info
        self.doc = doc
        self.ifcond = ifcond
        self.features = features or []
        for feature in self.features:
            feature.defined_in = name
        self.checked = False

    def check(self, schema: _Builder) -> None:
        seen: dict[str, _Member] = {}
        for feature in self.features:
            feature.check_clash(self.info, seen)
        self.checked = True

    def connect_doc(self, doc: DocBlock | None = None) -> None:
        doc = doc or self.doc
        if doc is not None:
            for feature in self.features:
                doc.connect_feature(feature.name, feature.info)  # type: ignore[arg-type]

    def check_doc(self) -> None:
        if self.doc is not None:
            self.doc.check()

    def is_implicit(self) -> bool:
        return self.info is None

    def module_info(self) -> SourceInfo | None:
        return self.info

    def describe(self) -> str:
        return f"{self.meta} '{self.name}'"

    def freeze_features(self) -> Features:
        features = self.features
        return tuple([f.freeze() for f in features]) if features else ()

    def freeze(self) -> Any:
        raise NotImplementedError


class _Include(_Entity):
    def __init__(self, module_name: str, info: SourceInfo) -> None:
        super().__init__(module_name, info, None)


class _Type(_Entity):
    def json_type(self) -> str:
        raise NotImplementedError

    def check(self, schema: _Builder) -> None:
        super().check(schema)
        for feature in self.features:
            if feature.name in ("deprecated", "unstable"):
                raise SchemaError(self.info, f"feature '{feature.name}' is not supported for types")

    def describe(self) -> str:
        return f"{self.meta} type '{self.name}'"


class _BuiltinType(_Type):
    meta = "built-in"

    def __init__(self, name: str, json_type: str) -> None:
        super().__init__(name, None, None)
        self._json_type = json_type

    def json_type(self) -> str:
        return self._json_type

    def freeze(self) -> model.BuiltinType:
        return model.BuiltinType(self.name, self._json_type)


class _EnumType(_Type):
    meta = "enum"

    def __init__(
        self,
        name: str,
        info: SourceInfo | None,
        doc: DocBlock | None,
        ifcond: model.Condition,
        features: list[_Feature],
        members: list[_EnumMember],
        prefix: str | None,
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        for member in members:
            member.defined_in = name
        self.members = members
        self.prefix = prefix

    def check(self, schema: _Builder) -> None:
        super().check(schema)
        seen: dict[str, _Member] = {}
        for member in self.members:
            member.check_clash(self.info, seen)

    def connect_doc(self, doc: DocBlock | None = None) -> None:
        super().connect_doc(doc)
        doc = doc or self.doc
        if doc is not None:
            for member in self.members:
                doc.connect_member(member.name)
                for feature in member.features:
                    doc.connect_feature(feature.name, feature.info)  # type: ignore[arg-type]

    def is_implicit(self) -> bool:
        return self.name == "QType"

    def json_type(self) -> str:
        return "string"

    def freeze(self) -> model.EnumType:
        return model.EnumType(
            self.name,
            self.info,
            self.doc,
            self.ifcond,
            self.freeze_features(),
            tuple(
                model.EnumMember(
                    m.name, m.ifcond, tuple([f.freeze() for f in m.features]) if m.features else ()
                )
                for m in self.members
            ),
            self.prefix,
        )


class _ArrayType(_Type):
    meta = "array"

    def __init__(self, name: str, info: SourceInfo | None, element_type: str) -> None:
        super().__init__(name, info, None)
        self.element_type_name = element_type
        self.element_type: _Type | None = None

    def check(self, schema: _Builder) -> None:
        super().check(schema)
        what = self.info.defn_meta if self.info is not None else None
        self.element_type = schema.resolve_type(self.element_type_name, self.info, str(what))
        if isinstance(self.element_type, _ArrayType):
            raise SchemaError(self.info, f"{what} uses array of arrays '{self.name}'")

    def module_info(self) -> SourceInfo | None:
        assert self.element_type is not None
        return self.element_type.info

    def is_implicit(self) -> bool:
        return True

    def json_type(self) -> str:
        return "array"

    def describe(self) -> str:
        return f"{self.meta} type ['{self.element_type_name}']"

    def freeze(self) -> model.ArrayType:
        assert self.element_type is not None
        return model.ArrayType(
            self.name, self.info, self.element_type_name, self.element_type.ifcond
        )


class _ObjectType(_Type):
    def __init__(
        self,
        name: str,
        info: SourceInfo | None,
        doc: DocBlock | None,
        ifcond: model.Condition,
        features: list[_Feature] | None,
        base: str | None,
        local_members: list[_ObjectMember],
        variants: _Variants | None,
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        self.meta = "union" if variants else "struct"
        for member in local_members:
            member.defined_in = name
        if variants is not None:
            for variant in variants.variants:
                variant.defined_in = name
        self.base_name = base
        self.base: _ObjectType | None = None
        self.local_members = local_members
        self.variants = variants
        self.members: list[_ObjectMember] | None = None

    def check(self, schema: _Builder) -> None:
        if self.members is not None:
            return
        if self.checked:
            raise SchemaError(self.info, f"object {self.name} contains itself")
        super().check(schema)
        seen: dict[str, _Member] = {}
        if self.base_name:
            base = schema.resolve_type(self.base_name, self.info, "'base'")
            if not isinstance(base, _ObjectType) or base.variants:
                raise SchemaError(
                    self.info, f"'base' requires a struct type, {base.describe()} isn't"
                )
            self.base = base
            base.check(schema)
            base.check_clash(self.info, seen)
        for member in self.local_members:
            member.check(schema)
            member.check_clash(self.info, seen)
        members: list[_ObjectMember] = list(seen.values())  # type: ignore[arg-type]
        if self.variants is not None:
            self.variants.check(schema, seen)
            self.variants.check_clash(self.info, seen)
        self.members = members

    def check_clash(self, info: SourceInfo | None, seen: dict[str, _Member]) -> None:
        assert self.members is not None
        for member in self.members:
            member.check_clash(info, seen)

    def connect_doc(self, doc: DocBlock | None = None) -> None:
        super().connect_doc(doc)
        doc = doc or self.doc
        if self.base is not None and self.base.is_implicit():
            self.base.connect_doc(doc)
        if doc is not None:
            for member in self.local_members:
                doc.connect_member(member.name)
                for feature in member.features:
                    doc.connect_feature(feature.name, feature.info)  # type: ignore[arg-type]

    def is_implicit(self) -> bool:
        return self.name.startswith("q_")

    def json_type(self) -> str:
        return "object"

    def freeze(self) -> model.ObjectType:
        assert self.members is not None
        variants = self.variants
        return model.ObjectType(
            self.name,
            self.info,
            self.doc,
            self.ifcond,
            self.freeze_features(),
            self.base_name,
            tuple(m.freeze() for m in self.local_members),
            tuple(m.freeze() for m in self.members),
            variants.tag_member.name if variants and variants.tag_member else None,
            tuple(v.freeze_variant() for v in variants.variants) if variants else None,
            self.meta,
        )


class _AlternateType(_Type):
    meta = "alternate"

    def __init__(
        self,
        name: str,
        info: SourceInfo,
        doc: DocBlock | None,
        ifcond: model.Condition,
        features: list[_Feature],
        variants: _Variants,
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        for variant in variants.variants:
            variant.defined_in = name
        assert variants.tag_member is not None
        variants.tag_member.defined_in = name
        self.variants = variants

    def check(self, schema: _Builder) -> None:
        super().check(schema)
        assert self.variants.tag_member is not None
        self.variants.tag_member.check(schema)
        self.variants.check(schema, {})
        seen: dict[str, _Member] = {}
        types_seen: dict[str, str] = {}
        for variant in self.variants.variants:
            variant.check_clash(self.info, seen)
            vtype = variant.type
            assert vtype is not None
            qtype = _JSON_TO_QTYPE.get(vtype.json_type())
            if not qtype:
                raise SchemaError(
                    self.info, f"{variant.describe(self.info)} cannot use {vtype.describe()}"
                )
            conflicting = {qtype}
            if qtype == "QTYPE_QSTRING":
                if isinstance(vtype, _EnumType):
                    for member in vtype.members:
                        if member.name in ("on", "off"):
                            conflicting.add("QTYPE_QBOOL")
                        if _NUMERIC_START_RE.match(member.name):
                            conflicting.add("QTYPE_QNUM")
                else:
                    conflicting.add("QTYPE_QNUM")
                    conflicting.add("QTYPE_QBOOL")
            for qt in sorted(conflicting):
                if qt in types_seen:
                    raise SchemaError(
                        self.info,
                        f"{variant.describe(self.info)} can't be distinguished "
                        f"from '{types_seen[qt]}'",
                    )
                types_seen[qt] = variant.name

    def connect_doc(self, doc: DocBlock | None = None) -> None:
        super().connect_doc(doc)
        doc = doc or self.doc
        if doc is not None:
            for variant in self.variants.variants:
                doc.connect_member(variant.name)

    def json_type(self) -> str:
        return "value"

    def freeze(self) -> model.AlternateType:
        return model.AlternateType(
            self.name,
            self.info,
            self.doc,
            self.ifcond,
            self.freeze_features(),
            tuple(v.freeze_variant() for v in self.variants.variants),
        )


class _Variants:
    """The branches of a union (tag named) or an alternate (implicit tag member)."""

    def __init__(
        self,
        tag_name: str | None,
        info: SourceInfo,
        tag_member: _ObjectMember | None,
        variants: list[_Variant],
    ) -> None:
        self.tag_name = tag_name
        self.info = info
        self.tag_member = tag_member
        self.variants = variants

    def check(self, schema: _Builder, seen: dict[str, _Member]) -> None:
        info = self.info
        if self.tag_name is not None:  # a union
            tag_member = seen.get(c_name(self.tag_name))
            base = "'base'"
            if not isinstance(tag_member, _ObjectMember) or self.tag_name != tag_member.name:
                raise SchemaError(
                    info, f"discriminator '{self.tag_name}' is not a member of {base}"
                )
            self.tag_member = tag_member
            base_type = schema.entities.get(tag_member.defined_in)
            assert base_type is not None
            if not base_type.is_implicit():
                base = f"base type '{tag_member.defined_in}'"
            if not isinstance(tag_member.type, _EnumType):
                raise SchemaError(
                    info,
                    f"discriminator member '{self.tag_name}' of {base} must be of enum type",
                )
            if tag_member.optional:
                raise SchemaError(
                    info,
                    f"discriminator member '{self.tag_name}' of {base} must not be optional",
                )
            if tag_member.ifcond is not None:
                raise SchemaError(
                    info,
                    f"discriminator member '{self.tag_name}' of {base} must not be conditional",
                )
            cases = {v.name for v in self.variants}
            for value in tag_member.type.members:
                if value.name not in cases:
                    variant = _Variant(value.name, info, "q_empty", value.ifcond)
                    variant.defined_in = tag_member.defined_in
                    self.variants.append(variant)
        if not self.variants:
            raise SchemaError(info, "union has no branches")
        for variant in self.variants:
            variant.check(schema)
            if seen:
                assert self.tag_member is not None
                tag_type = self.tag_member.type
                assert isinstance(tag_type, _EnumType)
                if variant.name not in {m.name for m in tag_type.members}:
                    raise SchemaError(
                        info, f"branch '{variant.name}' is not a value of {tag_type.describe()}"
                    )
                vtype = variant.type
                assert vtype is not None
                if not isinstance(vtype, _ObjectType) or vtype.variants:
                    raise SchemaError(
                        info, f"{variant.describe(info)} cannot use {vtype.describe()}"
                    )
                vtype.check(schema)

    def check_clash(self, info: SourceInfo | None, seen: dict[str, _Member]) -> None:
        for variant in self.variants:
            vtype = variant.type
            assert isinstance(vtype, _ObjectType)
            vtype.check_clash(info, dict(seen))


class _Command(_Entity):
    meta = "command"

    def __init__(
        self,
        name: str,
        info: SourceInfo,
        doc: DocBlock | None,
        ifcond: model.Condition,
        features: list[_Feature],
        arg_type: str | None,
        ret_type: str | None,
        flags: dict[str, bool],
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        self.arg_type_name = arg_type
        self.arg_type: _Type | None = None
        self.ret_type_name = ret_type
        self.flags = flags

    def check(self, schema: _Builder) -> None:
        super().check(schema)
        _check_arg_type(self, schema, self.flags["boxed"])
        if self.ret_type_name:
            ret_type = schema.resolve_type(self.ret_type_name, self.info, "command's 'returns'")
            assert self.info is not None
            if self.name not in self.info.pragma.command_returns_exceptions:
                element = ret_type
                if isinstance(element, _ArrayType):
                    element = schema.resolve_type(
                        element.element_type_name, self.info, "command's 'returns'"
                    )
                if not isinstance(element, _ObjectType):
                    raise SchemaError(
                        self.info, f"command's 'returns' cannot take {ret_type.describe()}"
                    )

    def connect_doc(self, doc: DocBlock | None = None) -> None:
        super().connect_doc(doc)
        doc = doc or self.doc
        if doc is not None and self.arg_type is not None and self.arg_type.is_implicit():
            self.arg_type.connect_doc(doc)

    def freeze(self) -> model.Command:
        f = self.flags
        return model.Command(
            self.name,
            self.info,
            self.doc,
            self.ifcond,
            self.freeze_features(),
            self.arg_type_name,
            self.ret_type_name,
            f["gen"],
            f["success-response"],
            f["boxed"],
            f["allow-oob"],
            f["allow-preconfig"],
            f["coroutine"],
        )


class _Event(_Entity):
    meta = "event"

    def __init__(
        self,
        name: str,
        info: SourceInfo,
        doc: DocBlock | None,
        ifcond: model.Condition,
        features: list[_Feature],
        arg_type: str | None,
        boxed: bool,
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        self.arg_type_name = arg_type
        self.arg_type: _Type | None = None
        self.boxed = boxed

    def check(self, schema: _Builder) -> None:
        super().check(schema)
        _check_arg_type(self, schema, self.boxed)

    def connect_doc(self, doc: DocBlock | None = None) -> None:
        super().connect_doc(doc)
        doc = doc or self.doc
        if doc is not None and self.arg_type is not None and self.arg_type.is_implicit():
            self.arg_type.connect_doc(doc)

    def freeze(self) -> model.Event:
        return model.Event(
            self.name,
            self.info,
            self.doc,
            self.ifcond,
            self.freeze_features(),
            self.arg_type_name,
            self.boxed,
        )


def _check_arg_type(entity: _Command | _Event, schema: _Builder, boxed: bool) -> None:
    if not entity.arg_type_name:
        return
    what = f"{entity.meta}'s 'data'"
    arg_type = schema.resolve_type(entity.arg_type_name, entity.info, what)
    if not isinstance(arg_type, _ObjectType):
        raise SchemaError(entity.info, f"{what} cannot take {arg_type.describe()}")
    if arg_type.variants and not boxed:
        raise SchemaError(
            entity.info, f"{what} can take {arg_type.describe()} only with 'boxed': true"
        )
    entity.arg_type = arg_type


# -- the builder --------------------------------------------------------------------------


class _Builder:
    def __init__(self, fname: str) -> None:
        self.fname = fname
        self.schema_dir = os.path.dirname(fname)
        self.entity_list: list[_Entity] = []
        self.entities: dict[str, _Entity] = {}
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

    def define(self, entity: _Entity) -> None:
        self.entity_list.append(entity)
        if isinstance(entity, _Include):
            return
        other = self.entities.get(entity.name)
        if other is not None:
            if other.info is not None:
                where = SchemaError(other.info, "previous definition")
                raise SchemaError(entity.info, f"'{entity.name}' is already defined\n{where}")
            raise SchemaError(entity.info, f"{other.describe()} is already defined")
        self.entities[entity.name] = entity

    def resolve_type(self, name: str, info: SourceInfo | None, what: str) -> _Type:
        entity = self.entities.get(name)
        if not isinstance(entity, _Type):
            raise SchemaError(info, f"{what} uses unknown type '{name}'")
        return entity

    def define_predefineds(self) -> None:
        for name, json_type in BUILTIN_TYPES:
            self.define(_BuiltinType(name, json_type))
            self.make_array_type(name, None)
        self.define(_ObjectType("q_empty", None, None, None, None, None, [], None))
        qtype_values = [_EnumMember(n, None, None, []) for n in _QTYPE_VALUES]
        self.define(_EnumType("QType", None, None, None, [], qtype_values, "QTYPE"))

    def make_features(self, features: Any, info: SourceInfo) -> list[_Feature]:
        if not features:
            return []
        return [_Feature(f["name"], info, f.get("if")) for f in features]

    def make_array_type(self, element_type: str, info: SourceInfo | None) -> str:
        name = element_type + "List"
        if not isinstance(self.entities.get(name), _Type):
            self.define(_ArrayType(name, info, element_type))
        return name

    def make_implicit_object_type(
        self,
        name: str,
        info: SourceInfo,
        ifcond: model.Condition,
        role: str,
        members: list[_ObjectMember],
    ) -> str | None:
        if not members:
            return None
        name = f"q_obj_{name}-{role}"
        if not isinstance(self.entities.get(name), _ObjectType):
            self.define(_ObjectType(name, info, None, ifcond, None, None, members, None))
        return name

    def make_member(self, key: str, value: Any, info: SourceInfo) -> _ObjectMember:
        optional = key.startswith("*")
        if optional:
            key = key[1:]
        type_name = value["type"]
        if isinstance(type_name, list):
            type_name = self.make_array_type(type_name[0], info)
        return _ObjectMember(
            key,
            info,
            type_name,
            optional,
            value.get("if"),
            self.make_features(value.get("features"), info),
        )

    def make_members(self, data: dict[str, Any], info: SourceInfo) -> list[_ObjectMember]:
        return [self.make_member(key, value, info) for key, value in data.items()]

    def make_variants(self, data: dict[str, Any], info: SourceInfo) -> list[_Variant]:
        variants = []
        for key, value in data.items():
            type_name = value["type"]
            if isinstance(type_name, list):
                type_name = self.make_array_type(type_name[0], info)
            variants.append(_Variant(key, info, type_name, value.get("if")))
        return variants

    def define_expr(self, expr: dict[str, Any], info: SourceInfo, doc: DocBlock | None) -> None:
        ifcond = expr.get("if")
        if "include" in expr:
            self.define(_Include(self.make_module(expr["include"]), info))
            return
        features = self.make_features(expr.get("features"), info)
        if "enum" in expr:
            values = [
                _EnumMember(
                    v["name"], info, v.get("if"), self.make_features(v.get("features"), info)
                )
                for v in expr["data"]
            ]
            self.define(
                _EnumType(expr["enum"], info, doc, ifcond, features, values, expr.get("prefix"))
            )
        elif "struct" in expr:
            members = self.make_members(expr["data"], info)
            self.define(
                _ObjectType(
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
                _ObjectType(
                    name,
                    info,
                    doc,
                    ifcond,
                    features,
                    base,
                    [],
                    _Variants(expr["discriminator"], info, None, variants),
                )
            )
        elif "alternate" in expr:
            variants = self.make_variants(expr["data"], info)
            tag_member = _ObjectMember("type", info, "QType", False)
            self.define(
                _AlternateType(
                    expr["alternate"],
                    info,
                    doc,
                    ifcond,
                    features,
                    _Variants(None, info, tag_member, variants),
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
            self.define(_Command(name, info, doc, ifcond, features, data, returns, flags))
        else:
            name = expr["event"]
            data = expr.get("data")
            if isinstance(data, dict):
                data = self.make_implicit_object_type(
                    name, info, ifcond, "arg", self.make_members(data, info)
                )
            self.define(_Event(name, info, doc, ifcond, features, data, expr.get("boxed", False)))

    def check(self) -> None:
        for entity in self.entity_list:
            entity.check(self)
            entity.connect_doc()
            entity.check_doc()
        for entity in self.entity_list:
            if isinstance(entity, _Include):
                continue
            info = entity.module_info()
            fname = info.fname if info is not None else BUILTIN_MODULE
            self.modules[self.module_name(fname)].append(entity.name)

    def freeze(self, docs: list[DocBlock]) -> model.Schema:
        types: dict[str, model.SchemaType] = {}
        commands: dict[str, model.Command] = {}
        events: dict[str, model.Event] = {}
        for entity in self.entity_list:
            if isinstance(entity, _Include):
                continue
            frozen = entity.freeze()
            if isinstance(entity, _Command):
                commands[entity.name] = frozen
            elif isinstance(entity, _Event):
                events[entity.name] = frozen
            else:
                types[entity.name] = frozen
        return model.Schema(
            self.fname,
            types,
            commands,
            events,
            tuple(model.Module(name, tuple(names)) for name, names in self.modules.items()),
            tuple(docs),
        )


def build_schema(fname: str, exprs: list[TopLevelExpr], docs: list[DocBlock]) -> model.Schema:
    """Define, resolve and check every entity; return the frozen model."""
    builder = _Builder(fname)
    for expr, info, doc in exprs:
        builder.define_expr(expr, info, doc)
    builder.check()
    return builder.freeze(docs)
