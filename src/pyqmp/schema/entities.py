"""The entities of a schema while it is being resolved and checked.

One class per kind of type (members are in :mod:`.members`, commands and events in
:mod:`.commands`), each with the checks QEMU's front end runs on it, in QEMU's order:
``check`` (types resolved, clashes, unions and alternates), ``connect_doc`` and
``check_doc`` (doc comments against what they document).  Once checked, ``freeze``
turns each into its immutable :mod:`~pyqmp.schema.model` form.  :mod:`.builder`
creates and drives them.
"""

from __future__ import annotations

import re

from .docs import DocBlock
from .errors import SchemaError, SourceInfo
from .members import Branch, EnumValue, FeatureMember, Member, ObjectMember
from .names import c_name

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

# No typing at run time: `schema check` does not pay for importing it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol, TypedDict

    from . import model

    Features = tuple[model.Feature, ...]

    class FrozenHead(TypedDict):
        name: str
        info: SourceInfo | None
        doc: model.Doc | None
        ifcond: model.Condition
        features: Features

    class Resolver(Protocol):
        """What entities need of the schema being built: lookup by name."""

        entities: dict[str, Entity]

        def resolve_type(
            self, name: str, info: SourceInfo | None, what: str | Callable[[], str]
        ) -> Type:
            """The type called ``name``; else an error saying ``what`` uses an unknown type."""
            ...


# -- entities ----------------------------------------------------------------------------


class Entity:
    meta = ""

    def __init__(
        self,
        name: str,
        info: SourceInfo | None,
        doc: DocBlock | None = None,
        ifcond: model.Condition = None,
        features: list[FeatureMember] | None = None,
    ) -> None:
        # (positional for the subclasses' calls; their own callers name every argument)
        self.name = name
        self.info = info
        self.doc = doc
        self.ifcond = ifcond
        self.features = features or []
        for feature in self.features:
            feature.defined_in = name
        self.checked = False

    def check(self, schema: Resolver) -> None:
        seen: dict[str, Member] = {}
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

    def frozen_head(self) -> FrozenHead:
        """What every frozen definition starts with: name, info, doc, ifcond, features."""
        return {
            "name": self.name,
            "info": self.info,
            "doc": self.doc.freeze() if self.doc else None,
            "ifcond": self.ifcond,
            "features": self.freeze_features(),
        }

    def freeze_features(self) -> Features:

        features = self.features
        return tuple([f.freeze() for f in features]) if features else ()

    def freeze(self) -> Any:

        raise NotImplementedError


class Include(Entity):
    def __init__(self, module_name: str, info: SourceInfo) -> None:
        super().__init__(module_name, info)


class Type(Entity):
    def json_type(self) -> str:
        raise NotImplementedError

    def check(self, schema: Resolver) -> None:
        super().check(schema)
        for feature in self.features:
            if feature.name in ("deprecated", "unstable"):
                raise SchemaError(self.info, f"feature '{feature.name}' is not supported for types")

    def describe(self) -> str:
        return f"{self.meta} type '{self.name}'"


class BuiltinType(Type):
    meta = "built-in"

    def __init__(self, name: str, json_type: str) -> None:
        super().__init__(name, None)
        self._json_type = json_type

    def json_type(self) -> str:
        return self._json_type

    def freeze(self) -> model.BuiltinType:
        from . import model

        return model.BuiltinType(name=self.name, json_type=self._json_type)


class EnumType(Type):
    meta = "enum"

    def __init__(
        self,
        name: str,
        info: SourceInfo | None,
        *,
        doc: DocBlock | None = None,
        ifcond: model.Condition = None,
        features: list[FeatureMember] | None = None,
        members: list[EnumValue],
        prefix: str | None = None,
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        for member in members:
            member.defined_in = name
        self.members = members
        self.prefix = prefix

    def check(self, schema: Resolver) -> None:
        super().check(schema)
        seen: dict[str, Member] = {}
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
        from . import model

        return model.EnumType(
            **self.frozen_head(),
            members=tuple(
                model.EnumMember(
                    name=m.name,
                    ifcond=m.ifcond,
                    features=tuple([f.freeze() for f in m.features]) if m.features else (),
                    info=m.info,
                )
                for m in self.members
            ),
            prefix=self.prefix,
        )


class ArrayType(Type):
    meta = "array"

    def __init__(self, name: str, info: SourceInfo | None, element_type: str) -> None:
        super().__init__(name, info)
        self.element_type_name = element_type
        self.element_type: Type | None = None

    def check(self, schema: Resolver) -> None:
        super().check(schema)
        what = self.info.defn_meta if self.info is not None else None
        self.element_type = schema.resolve_type(self.element_type_name, self.info, str(what))
        if isinstance(self.element_type, ArrayType):
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
        from . import model

        assert self.element_type is not None
        return model.ArrayType(
            name=self.name,
            info=self.info,
            element_type=self.element_type_name,
            ifcond=self.element_type.ifcond,
        )


class ObjectType(Type):
    def __init__(
        self,
        name: str,
        info: SourceInfo | None,
        *,
        doc: DocBlock | None = None,
        ifcond: model.Condition = None,
        features: list[FeatureMember] | None = None,
        base: str | None = None,
        local_members: list[ObjectMember],
        variants: Variants | None = None,
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        if variants is not None and not variants.of_union:
            raise ValueError(f"{name}: an object type's variants are a union's")
        self.meta = "struct" if variants is None else "union"
        for member in local_members:
            member.defined_in = name
        if variants is not None:
            for variant in variants.variants:
                variant.defined_in = name
        self.base_name = base
        self.base: ObjectType | None = None
        self.local_members = local_members
        self.variants = variants
        self.members: list[ObjectMember] | None = None

    def check(self, schema: Resolver) -> None:
        if self.members is not None:
            return
        if self.checked:
            raise SchemaError(self.info, f"object {self.name} contains itself")
        # Down the chain of bases doing each object's own checks, then back up doing
        # the members, base's first: the order a recursive walk has (so errors come as
        # QEMU's do), but in a loop, so a long chain of bases cannot exhaust the stack.
        chain: list[ObjectType] = []
        obj = self
        while True:
            Type.check(obj, schema)
            chain.append(obj)
            if not obj.base_name:
                break
            base = schema.resolve_type(obj.base_name, obj.info, "'base'")
            if not isinstance(base, ObjectType) or base.variants:
                raise SchemaError(
                    obj.info, f"'base' requires a struct type, {base.describe()} isn't"
                )
            obj.base = base
            if base.members is not None:
                break
            if base.checked:
                raise SchemaError(base.info, f"object {base.name} contains itself")
            obj = base
        for obj in reversed(chain):
            obj.check_members(schema)

    def check_members(self, schema: Resolver) -> None:
        seen: dict[str, Member] = {}
        if self.base is not None:
            self.base.check_clash(self.info, seen)
        for member in self.local_members:
            member.check(schema)
            member.check_clash(self.info, seen)
        members: list[ObjectMember] = list(seen.values())  # type: ignore[arg-type]
        if self.variants is not None:
            self.variants.check(schema, seen)
            self.variants.check_clash(self.info, seen)
        self.members = members

    def check_clash(self, info: SourceInfo | None, seen: dict[str, Member]) -> None:
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
        from . import model

        assert self.members is not None
        variants = self.variants
        return model.ObjectType(
            **self.frozen_head(),
            base=self.base_name,
            local_members=tuple(m.freeze() for m in self.local_members),
            members=tuple(m.freeze() for m in self.members),
            tag=variants.tag_member.name if variants and variants.tag_member else None,
            variants=tuple(v.freeze_variant() for v in variants.variants) if variants else None,
            meta=self.meta,
        )


class AlternateType(Type):
    meta = "alternate"

    def __init__(
        self,
        name: str,
        info: SourceInfo,
        *,
        doc: DocBlock | None = None,
        ifcond: model.Condition = None,
        features: list[FeatureMember] | None = None,
        variants: Variants,
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        if variants.of_union:
            raise ValueError(f"{name}: an alternate's variants are not a union's")
        for variant in variants.variants:
            variant.defined_in = name
        assert variants.tag_member is not None
        variants.tag_member.defined_in = name
        self.variants = variants

    def check(self, schema: Resolver) -> None:
        super().check(schema)
        assert self.variants.tag_member is not None
        self.variants.tag_member.check(schema)
        self.variants.check(schema, {})
        seen: dict[str, Member] = {}
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
                if isinstance(vtype, EnumType):
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
        from . import model

        return model.AlternateType(
            **self.frozen_head(),
            variants=tuple(v.freeze_variant() for v in self.variants.variants),
        )


class Variants:
    """The branches of a union or of an alternate, which say which they are.

    A union's tag is the base member its ``discriminator`` names, found when the union
    is checked; an alternate's is an implicit ``type`` member of QEMU's ``QType``.  Make
    them with :meth:`union` and :meth:`alternate`.
    """

    def __init__(
        self,
        info: SourceInfo,
        variants: list[Branch],
        *,
        of_union: bool,
        tag_name: str | None,
        tag_member: ObjectMember | None,
    ) -> None:
        self.info = info
        self.variants = variants
        self.of_union = of_union
        self.tag_name = tag_name
        self.tag_member = tag_member

    @classmethod
    def union(cls, discriminator: str, info: SourceInfo, variants: list[Branch]) -> Variants:
        return cls(info, variants, of_union=True, tag_name=discriminator, tag_member=None)

    @classmethod
    def alternate(cls, info: SourceInfo, variants: list[Branch]) -> Variants:
        tag_member = ObjectMember("type", info, "QType")
        return cls(info, variants, of_union=False, tag_name=None, tag_member=tag_member)

    def check(self, schema: Resolver, seen: dict[str, Member]) -> None:
        info = self.info
        if self.of_union:
            assert self.tag_name is not None
            tag_member = seen.get(c_name(self.tag_name))
            base = "'base'"
            if not isinstance(tag_member, ObjectMember) or self.tag_name != tag_member.name:
                raise SchemaError(
                    info, f"discriminator '{self.tag_name}' is not a member of {base}"
                )
            self.tag_member = tag_member
            base_type = schema.entities.get(tag_member.defined_in)
            assert base_type is not None
            if not base_type.is_implicit():
                base = f"base type '{tag_member.defined_in}'"
            if not isinstance(tag_member.type, EnumType):
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
                    variant = Branch(value.name, info, "q_empty", ifcond=value.ifcond)
                    variant.defined_in = tag_member.defined_in
                    self.variants.append(variant)
        if not self.variants:
            raise SchemaError(info, "union has no branches")
        for variant in self.variants:
            variant.check(schema)
            if self.of_union:
                assert self.tag_member is not None
                tag_type = self.tag_member.type
                assert isinstance(tag_type, EnumType)
                if variant.name not in {m.name for m in tag_type.members}:
                    raise SchemaError(
                        info, f"branch '{variant.name}' is not a value of {tag_type.describe()}"
                    )
                vtype = variant.type
                assert vtype is not None
                if not isinstance(vtype, ObjectType) or vtype.variants:
                    raise SchemaError(
                        info, f"{variant.describe(info)} cannot use {vtype.describe()}"
                    )
                vtype.check(schema)

    def check_clash(self, info: SourceInfo | None, seen: dict[str, Member]) -> None:
        for variant in self.variants:
            vtype = variant.type
            assert isinstance(vtype, ObjectType)
            vtype.check_clash(info, dict(seen))
