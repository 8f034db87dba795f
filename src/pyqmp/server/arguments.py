"""Decoding a command's arguments into typed values, with QEMU's error messages.

``msgspec.convert`` does the work in C: it checks every member against the types
generated from the schema and builds the structs.  What it reports is translated
into the message QEMU's input visitor gives for the same mistake — "Parameter
'value' is missing", "Invalid parameter type for 'value', expected: integer",
"Parameter 'foo' is unexpected", "Parameter 'x' expects uint8_t" — naming the member by
its path (``devices[1].id``), because clients and people match on these.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ..protocol.errors import (
    argument_problem,
    parameter_missing,
    parameter_out_of_range,
    parameter_type_invalid,
    parameter_unexpected,
    parameter_value_refused,
)
from ..schema import model
from ..schema.argument_walk import first_problem
from .errors import CommandError

_AT_RE = re.compile(r" - at `\$(.*)`$")
_MISSING_RE = re.compile(r"^Object missing required field `(.*)`$")
_UNKNOWN_RE = re.compile(r"^Object contains unknown field `(.*)`$")
_ENUM_RE = re.compile(r"^Invalid enum value '(.*)'$")
_EXPECTED_RE = re.compile(r"^Expected `(\w+)`")

_JSON_NAMES = {
    "int": "integer",
    "str": "string",
    "bool": "boolean",
    "float": "number",
    "object": "object",
    "array": "array",
    "null": "null",
}
# QEMU's visitors check a sized integer in two steps, each with its own message: first as
# a 64-bit number (a wrong JSON type, a fraction: "expected: integer" for the signed ones,
# "expects uint64" for the unsigned ones and size), then against the C type's range
# ("expects int32_t", naming the member alone, not its path: QEMU's visit_type_intN).
_SIGNED_C_TYPES = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t"}
_UNSIGNED_C_TYPES = {"uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t"}
_UNSIGNED_64 = frozenset(("uint64", "size"))
# the walk of the client's local checks names them by their JSON type only (introspection
# says "int" for all of them): their messages come from msgspec's finding instead
_SIZED_INTS = frozenset((*_SIGNED_C_TYPES, *_UNSIGNED_C_TYPES, *_UNSIGNED_64))


def decode_arguments(
    schema: model.Schema, arg_type: str | None, arguments: dict[str, Any], target: Any
) -> Any:
    """``arguments`` as an instance of ``target``; :class:`CommandError` if they don't fit."""
    try:
        return msgspec.convert(arguments, target)
    except msgspec.ValidationError as error:
        # msgspec meets problems in the order of the arguments given; QEMU reports the
        # first in the schema's order (members, then the unexpected), so ask the walk
        problem = first_problem(schema, arg_type, arguments)
        if problem is not None and problem.type_name not in _SIZED_INTS:
            text = argument_problem(problem.kind, problem.path, problem.detail)
            raise CommandError(text) from None
        raise CommandError(_qemu_message(schema, arg_type, str(error))) from None


def _qemu_message(schema: model.Schema, arg_type: str | None, message: str) -> str:
    at = _AT_RE.search(message)
    path = at.group(1) if at else ""
    text = message[: at.start()] if at else message
    if path.startswith("."):
        path = path[1:]
    if match := _MISSING_RE.match(text):
        return parameter_missing(_join(path, match.group(1)))
    if match := _UNKNOWN_RE.match(text):
        return parameter_unexpected(_join(path, match.group(1)))
    if match := _ENUM_RE.match(text):
        return parameter_value_refused(path, match.group(1))
    qapi_type = _type_at(schema, arg_type, path)
    wrong_type = ", got `" in text  # msgspec's type error; a range error says the bound
    if qapi_type in _SIGNED_C_TYPES and not wrong_type:
        return parameter_out_of_range(_own_name(path), _SIGNED_C_TYPES[qapi_type])
    if qapi_type in _UNSIGNED_C_TYPES and not wrong_type:
        return parameter_out_of_range(_own_name(path), _UNSIGNED_C_TYPES[qapi_type])
    if qapi_type in _UNSIGNED_64 or qapi_type in _UNSIGNED_C_TYPES:
        return parameter_out_of_range(path, "uint64")
    match = _EXPECTED_RE.match(text)
    expected = _JSON_NAMES.get(match.group(1), match.group(1)) if match else "value"
    if expected == "object" and qapi_type is not None:
        expected = _expected_for(schema, qapi_type)
    return parameter_type_invalid(path, expected)


def _own_name(path: str) -> str:
    """The member's own name, as QEMU's range check names it ("null" in a list)."""
    last = path.rpartition(".")[2]
    return "null" if last.endswith("]") else last


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _expected_for(schema: model.Schema, type_name: str) -> str:
    typ = schema.types.get(type_name)
    if isinstance(typ, model.ArrayType):
        return "array"
    return "object"


_PATH_PART_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _type_at(schema: model.Schema, arg_type: str | None, path: str) -> str | None:
    """The QAPI type of the member at ``path`` in ``arg_type``, if it can be told."""
    current = arg_type
    for match in _PATH_PART_RE.finditer(path):
        if current is None:
            return None
        typ = schema.types.get(current)
        if match.group(1) is not None:
            if not isinstance(typ, model.ObjectType):
                return None
            current = next((m.type for m in typ.members if m.name == match.group(1)), None)
        else:
            if not isinstance(typ, model.ArrayType):
                return None
            current = typ.element_type
    return current
