"""A command's arguments walked as QEMU's input visitor walks them, to its first problem.

QEMU checks a command's arguments member by member in the order the schema declares them
(a missing member, else its JSON type, recursing into objects and arrays), and only then
the members nobody asked for; the first problem is the error the client sees.  Both the
server (whose decoder finds problems in another order) and the client (which checks before
sending) need that first problem, worded by each from :mod:`pyqmp.protocol.errors`; this
module finds it, as a :class:`Problem`.  Its one rule: report only what QEMU would
certainly refuse — an alternate's branches and an integer's range are not looked into.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple

from . import model

#: A JSON type as QEMU's input visitor names it, by the built-in type's JSON type.
JSON_EXPECTED = {
    "string": "string", "int": "integer", "number": "number", "boolean": "boolean",
    "null": "null",
}  # fmt: skip


class Problem(NamedTuple):
    """``kind`` at member ``path`` (``a.b[2]``): ``missing``, ``unexpected``, ``type``
    (``detail``: the JSON type expected, as QEMU names it) or ``value`` (``detail``: the
    enum value refused).  ``type_name`` is the member's QAPI type, when known."""

    kind: Literal["missing", "unexpected", "type", "value"]
    path: str
    detail: str = ""
    type_name: str | None = None


class _Found(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _fits(json_type: str, value: object) -> bool:
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if json_type == "boolean":
        return isinstance(value, bool)
    if json_type == "null":
        return value is None
    return True  # 'value' (QAPI's any)


def first_problem(
    schema: model.Schema, arg_type: str | None, arguments: Mapping[str, Any] | None
) -> Problem | None:
    """The first problem QEMU finds in ``arguments`` of type ``arg_type`` (None: the command
    takes no arguments), or None if it would find none."""
    try:
        if arg_type is None:
            if arguments:
                raise _Found(Problem("unexpected", next(iter(arguments))))
        else:
            _Walk(schema).value(arg_type, arguments or {}, "")
    except _Found as found:
        return found.problem
    return None


class _Walk:
    def __init__(self, schema: model.Schema) -> None:
        self.types = schema.types

    def value(self, type_name: str, value: Any, path: str) -> None:
        typ = self.types.get(type_name)
        if isinstance(typ, model.BuiltinType):
            if not _fits(typ.json_type, value):
                expected = JSON_EXPECTED[typ.json_type]
                raise _Found(Problem("type", path, expected, type_name))
        elif isinstance(typ, model.EnumType):
            if not isinstance(value, str):
                raise _Found(Problem("type", path, "string", type_name))
            if value not in {member.name for member in typ.members}:
                raise _Found(Problem("value", path, value, type_name))
        elif isinstance(typ, model.ArrayType):
            if not isinstance(value, list):
                raise _Found(Problem("type", path, "array", type_name))
            for index, element in enumerate(value):
                self.value(typ.element_type, element, f"{path}[{index}]")
        elif isinstance(typ, model.ObjectType):
            if not isinstance(value, Mapping):
                raise _Found(Problem("type", path, "object", type_name))
            self.object(typ, value, path)
        # an alternate, or a type the schema does not describe: not looked into

    def object(self, typ: model.ObjectType, value: Mapping[str, Any], path: str) -> None:
        known = {member.name for member in typ.members}
        self.members(typ.members, value, path)
        if typ.tag is not None and typ.variants is not None:
            tag = value.get(typ.tag)
            branch = next((v.type for v in typ.variants if v.name == tag), None)
            variant = self.types.get(branch) if branch is not None else None
            if isinstance(variant, model.ObjectType):
                extra = [member for member in variant.members if member.name not in known]
                known.update(member.name for member in extra)
                self.members(extra, value, path)
        for key in value:
            if key not in known:
                raise _Found(Problem("unexpected", _join(path, key)))

    def members(
        self, members: Iterable[model.ObjectMember], value: Mapping[str, Any], path: str
    ) -> None:
        for member in members:
            member_path = _join(path, member.name)
            if member.name not in value:
                if not member.optional:
                    raise _Found(Problem("missing", member_path, "", member.type))
                continue
            self.value(member.type, value[member.name], member_path)
