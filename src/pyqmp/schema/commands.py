"""Commands and events while a schema is being checked.

Their checks are about what they take and give: a command's or an event's ``data``
must be an object type (a union only with ``'boxed': true``), and a command's
``returns`` an object or an array of objects unless the ``command-returns-exceptions``
pragma names it.  Like :mod:`.entities`, whose base class they share, they freeze into
their :mod:`~pyqmp.schema.model` form once checked.
"""

from __future__ import annotations

import collections

from .docs import DocBlock
from .entities import ArrayType, Entity, ObjectType, Type
from .errors import SchemaError, SourceInfo
from .members import FeatureMember

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from . import model
    from .entities import Resolver


class CommandFlags(
    collections.namedtuple(
        "CommandFlags",
        ("gen", "success_response", "boxed", "allow_oob", "allow_preconfig", "coroutine"),
        defaults=(True, True, False, False, False, False),
    )
):
    """A command's flags, with QEMU's defaults for those the definition leaves out.

    The fields are named as :class:`~pyqmp.schema.model.Command`'s.  (A
    ``collections.namedtuple`` rather than ``typing.NamedTuple``: ``schema check`` does
    not import ``typing``; the annotations are for the type checker.)
    """

    __slots__ = ()
    gen: bool
    success_response: bool
    boxed: bool
    allow_oob: bool
    allow_preconfig: bool
    coroutine: bool

    @classmethod
    def of(cls, expr: dict[str, object]) -> CommandFlags:
        """The flags a checked ``command`` expression sets."""
        if expr.keys().isdisjoint(_FLAG_KEYS):
            return DEFAULT_FLAGS  # most commands: one shared value
        return cls(
            gen=expr.get("gen", True),
            success_response=expr.get("success-response", True),
            boxed=expr.get("boxed", False),
            allow_oob=expr.get("allow-oob", False),
            allow_preconfig=expr.get("allow-preconfig", False),
            coroutine=expr.get("coroutine", False),
        )


DEFAULT_FLAGS = CommandFlags()
_FLAG_KEYS = frozenset(
    ("gen", "success-response", "boxed", "allow-oob", "allow-preconfig", "coroutine")
)


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
        *,
        doc: DocBlock | None = None,
        ifcond: model.Condition = None,
        features: list[FeatureMember] | None = None,
        arg_type: str | None = None,
        ret_type: str | None = None,
        flags: CommandFlags = DEFAULT_FLAGS,
    ) -> None:
        super().__init__(name, info, doc, ifcond, features)
        self.arg_type_name = arg_type
        self.arg_type: Type | None = None
        self.ret_type_name = ret_type
        self.flags = flags

    def check(self, schema: Resolver) -> None:
        super().check(schema)
        _check_arg_type(self, schema, self.flags.boxed)
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

        return model.Command(
            **self.frozen_head(),
            arg_type=self.arg_type_name,
            ret_type=self.ret_type_name,
            **self.flags._asdict(),
        )


class Event(_TakesData):
    meta = "event"

    def __init__(
        self,
        name: str,
        info: SourceInfo,
        *,
        doc: DocBlock | None = None,
        ifcond: model.Condition = None,
        features: list[FeatureMember] | None = None,
        arg_type: str | None = None,
        boxed: bool = False,
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

        return model.Event(**self.frozen_head(), arg_type=self.arg_type_name, boxed=self.boxed)


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
