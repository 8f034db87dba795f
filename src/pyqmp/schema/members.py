"""Members of definitions while a schema is being checked.

Object members, union and alternate branches, enum values and features: each knows
the definition it belongs to, so that a clash (two names with one C spelling, as QEMU
decides) is reported the way QEMU reports it: "member 'a' collides with member 'A'",
"parameter 'x' ...", "base member 'y' ...".
"""

from __future__ import annotations

from .errors import SchemaError, SourceInfo
from .names import c_name

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from . import model
    from .entities import Resolver, Type


# -- members -----------------------------------------------------------------------------


class Member:
    """An object member, branch, enum value or feature while it is being checked."""

    __slots__ = ("defined_in", "ifcond", "info", "name")
    role = "member"

    # (ifcond is positional here only for the subclasses' calls: ~10,000 per QEMU schema)
    def __init__(self, name: str, info: SourceInfo | None, ifcond: model.Condition = None) -> None:
        self.name = name
        self.info = info
        self.ifcond = ifcond
        self.defined_in = ""

    def check_clash(self, info: SourceInfo | None, seen: dict[str, Member]) -> None:
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


class FeatureMember(Member):
    __slots__ = ()
    role = "feature"

    def freeze(self) -> model.Feature:
        from . import model

        return model.Feature(name=self.name, ifcond=self.ifcond, info=self.info)


class EnumValue(Member):
    __slots__ = ("features",)
    role = "value"

    def __init__(
        self,
        name: str,
        info: SourceInfo | None,
        *,
        ifcond: model.Condition = None,
        features: list[FeatureMember] | None = None,
    ) -> None:
        super().__init__(name, info, ifcond)
        self.features = features or []
        for feature in self.features:
            feature.defined_in = name


class ObjectMember(Member):
    __slots__ = ("features", "optional", "type", "type_name")

    def __init__(
        self,
        name: str,
        info: SourceInfo | None,
        type_name: str,
        *,
        optional: bool = False,
        ifcond: model.Condition = None,
        features: list[FeatureMember] | None = None,
    ) -> None:
        super().__init__(name, info, ifcond)
        self.type_name = type_name
        self.type: Type | None = None
        self.optional = optional
        self.features = features or []
        for feature in self.features:
            feature.defined_in = name

    def check(self, schema: Resolver) -> None:
        self.type = schema.resolve_type(self.type_name, self.info, lambda: self.describe(self.info))
        if self.features:
            seen: dict[str, Member] = {}
            for feature in self.features:
                feature.check_clash(self.info, seen)

    def freeze(self) -> model.ObjectMember:
        from . import model

        features = self.features
        return model.ObjectMember(
            name=self.name,
            type=self.type_name,
            optional=self.optional,
            ifcond=self.ifcond,
            features=tuple([f.freeze() for f in features]) if features else (),
            defined_in=self.defined_in,
            info=self.info,
        )


class Branch(ObjectMember):
    __slots__ = ()
    role = "branch"

    def __init__(
        self, name: str, info: SourceInfo | None, type_name: str, *, ifcond: model.Condition
    ) -> None:
        super().__init__(name, info, type_name, ifcond=ifcond)

    def freeze_variant(self) -> model.Variant:
        from . import model

        return model.Variant(
            name=self.name, type=self.type_name, ifcond=self.ifcond, info=self.info
        )
