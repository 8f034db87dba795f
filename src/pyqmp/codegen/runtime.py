"""What generated client bindings call at run time: sending a typed call, and reading
what a server answers into the generated types without breaking on a newer server.

Its one rule: a reply that the bindings' schema would not accept is still delivered, never
an error.  Decoding tries msgspec's strict conversion first (in C: the common case of a
server that matches the bindings); when that refuses, a lenient walk over the same types
builds them anyway: a member the bindings do not know is kept (:func:`unknown_members`), an
enum value they do not know stays the string it was (so it compares equal to it), a union
branch they do not know, or a shape that fits nothing, is left as the JSON value it was.
The walk is driven by msgspec's own description of the generated types
(:func:`msgspec.inspect.type_info`), so nothing here repeats the schema.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Mapping
from typing import Any, Final, Protocol

import msgspec
import msgspec.inspect as inspect

_UNKNOWN_MEMBERS: Final = "_unknown_members"


class Default(enum.Enum):
    """The type of :data:`DEFAULT`: "use the client's default timeout"."""

    DEFAULT = "default"


DEFAULT: Final = Default.DEFAULT


class Executor(Protocol):
    """What generated bindings drive: :class:`pyqmp.client.QMPClient`, or anything with its
    ``execute``."""

    async def execute(
        self, name: str, arguments: Mapping[str, object] | None = ..., *, timeout: Any = ...
    ) -> Any: ...

    async def wait_event(self, name: str, *, timeout: Any = ..., match: Any = ...) -> Any: ...


class UnstableWarning(FutureWarning):
    """A command or event of the schema's unstable (``unstable`` feature) interface was used."""


def warn_unstable(name: str) -> None:
    warnings.warn(
        f"{name} is unstable: it may change or go away without deprecation",
        UnstableWarning,
        stacklevel=3,
    )


async def call(
    qmp: Executor,
    name: str,
    arguments: Any,
    result_type: Any,
    timeout: float | Default | None,
) -> Any:
    """Run ``name`` with ``arguments`` (a generated arguments struct, or None) and decode
    its result as ``result_type`` (None: the command returns nothing)."""
    wire_arguments = None if arguments is None else msgspec.to_builtins(arguments)
    if timeout is DEFAULT:
        value = await qmp.execute(name, wire_arguments)
    else:
        value = await qmp.execute(name, wire_arguments, timeout=timeout)
    if result_type is None:
        return None
    return decode(value, result_type)


def unknown_members(value: object) -> dict[str, Any]:
    """The members of a decoded struct that its bindings did not know (a newer server's)."""
    extra = getattr(value, "__dict__", {}).get(_UNKNOWN_MEMBERS)
    return dict(extra) if extra else {}


_TYPE_INFO: dict[Any, inspect.Type] = {}


def decode(value: Any, annotation: Any) -> Any:
    """``value`` (JSON) as ``annotation`` (a generated type): strictly if it fits, else
    leniently (see the module's rule); never raises for what a server sends."""
    try:
        return msgspec.convert(value, annotation)
    except msgspec.ValidationError:
        pass
    info = _TYPE_INFO.get(annotation)
    if info is None:
        info = _TYPE_INFO[annotation] = inspect.type_info(annotation)
    return _lenient(value, info)


def _lenient(value: Any, info: inspect.Type) -> Any:
    if isinstance(info, inspect.StructType):
        return _struct(value, info)
    if isinstance(info, inspect.ListType):
        if type(value) is list:
            return [_lenient(item, info.item_type) for item in value]
        return value
    if isinstance(info, inspect.UnionType):
        return _union(value, info)
    return value  # scalars, enums (Literal), Any: the value as sent is the best answer


def _struct(value: Any, info: inspect.StructType) -> Any:
    if type(value) is not dict:
        return value
    if info.tag_field is not None and value.get(info.tag_field) != info.tag:
        return value  # a branch of a union this struct is not
    fields = {field.encode_name: field for field in info.fields}
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, member in value.items():
        field = fields.get(key)
        if field is not None:
            known[field.name] = _lenient(member, field.type)
        elif key != info.tag_field:
            extra[key] = member
    try:
        result = info.cls(**known)
    except TypeError:
        return value  # a member the bindings require is missing: keep the JSON
    if extra:
        result.__dict__[_UNKNOWN_MEMBERS] = extra
    return result


def _union(value: Any, info: inspect.UnionType) -> Any:
    for member in info.types:
        try:
            return msgspec.convert(value, _annotation_of(member))
        except (msgspec.ValidationError, TypeError):
            continue
    if type(value) is dict:
        for member in info.types:
            if isinstance(member, inspect.StructType) and (
                member.tag_field is None or value.get(member.tag_field) == member.tag
            ):
                return _struct(value, member)
    return value


def _annotation_of(info: inspect.Type) -> Any:
    """A type msgspec can convert to, for one member of a union."""
    if isinstance(info, inspect.StructType):
        return info.cls
    if isinstance(info, inspect.ListType):
        return list[_annotation_of(info.item_type)]  # type: ignore[misc]
    simple = {
        inspect.IntType: int,
        inspect.FloatType: float,
        inspect.StrType: str,
        inspect.BoolType: bool,
        inspect.NoneType: None,
    }
    for kind, annotation in simple.items():
        if isinstance(info, kind):
            return annotation
    return Any
