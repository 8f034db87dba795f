"""Commands and events while a schema is being checked.

Their checks are about what they take and give: a command's or an event's ``data``
must be an object type (a union only with ``'boxed': true``), and a command's
``returns`` an object or an array of objects unless the ``command-returns-exceptions``
pragma names it.  Like :mod:`.entities`, whose base class they share, they freeze into
their :mod:`~pyqmp.schema.model` form once checked.
"""

from __future__ import annotations

from .docs import DocBlock
from .entities import ArrayType, Entity, ObjectType, Type
from .errors import SchemaError, SourceInfo
from .members import FeatureMember

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from . import model
    from .entities import Resolver


class _TakesData(Entity):
    """A command or an event: its ``data`` is an argument type, whose members (when
    the type is implicit) the definition's doc comment documents."""

    arg_type: Type | None

    def connect_doc(self, doc: DocBlock | None = None) -> None:
        super().connect_doc(doc)
        doc = doc or self.doc
        if doc is not None and self.arg_type is not None and self.arg_type.is_implicit():
            self.arg_type.connect_doc(doc)


class Command(_TakesData):
    meta = "command"

    def __init__(
        self,
        name: str,
        info: SourceInfo,
        doc: DocBlock | None,
        ifcond: model.Condition,
        features: list[FeatureMember],
        arg_type: str | None,
        ret_type: str | None,
        flags: dict[str, bool],
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        self.arg_type_name = arg_type
        self.arg_type: Type | None = None
        self.ret_type_name = ret_type
        self.flags = flags

    def check(self, schema: Resolver) -> None:
        super().check(schema)
        _check_arg_type(self, schema, self.flags["boxed"])
        if self.ret_type_name:
            ret_type = schema.resolve_type(self.ret_type_name, self.info, "command's 'returns'")
            assert self.info is not None
            if self.name not in self.info.pragma.command_returns_exceptions:
                element = ret_type
                if isinstance(element, ArrayType):
                    element = schema.resolve_type(
                        element.element_type_name, self.info, "command's 'returns'"
                    )
                if not isinstance(element, ObjectType):
                    raise SchemaError(
                        self.info, f"command's 'returns' cannot take {ret_type.describe()}"
                    )

    def freeze(self) -> model.Command:
        from . import model

        f = self.flags
        return model.Command(
            *self.frozen_head(),
            self.arg_type_name,
            self.ret_type_name,
            f["gen"],
            f["success-response"],
            f["boxed"],
            f["allow-oob"],
            f["allow-preconfig"],
            f["coroutine"],
        )


class Event(_TakesData):
    meta = "event"

    def __init__(
        self,
        name: str,
        info: SourceInfo,
        doc: DocBlock | None,
        ifcond: model.Condition,
        features: list[FeatureMember],
        arg_type: str | None,
        boxed: bool,
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        self.arg_type_name = arg_type
        self.arg_type: Type | None = None
        self.boxed = boxed

    def check(self, schema: Resolver) -> None:
        super().check(schema)
        _check_arg_type(self, schema, self.boxed)

    def freeze(self) -> model.Event:
        from . import model

        return model.Event(
            *self.frozen_head(),
            self.arg_type_name,
            self.boxed,
        )


def _check_arg_type(entity: Command | Event, schema: Resolver, boxed: bool) -> None:
    if not entity.arg_type_name:
        return
    what = f"{entity.meta}'s 'data'"
    arg_type = schema.resolve_type(entity.arg_type_name, entity.info, what)
    if not isinstance(arg_type, ObjectType):
        raise SchemaError(entity.info, f"{what} cannot take {arg_type.describe()}")
    if arg_type.variants and not boxed:
        raise SchemaError(
            entity.info, f"{what} can take {arg_type.describe()} only with 'boxed': true"
        )
    entity.arg_type = arg_type
