"""The JSON a scalar type accepts, so that two types can be compared by what they accept.

Type names are not on the wire: ``int8`` and ``int64`` are both JSON numbers, told apart only
by range; an enum is a string from a set. Alternates pick their branch by JSON type, so a
type's *kind* here is its JSON type as an alternate sees it (QEMU's QType).
"""

from __future__ import annotations

from .. import model

# The range of every built-in number type; 'number' also takes fractions.
_INF = float("inf")
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "int": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
    "size": (0, 2**64 - 1),
    "number": (-_INF, _INF),
}


def json_kind(typ: model.SchemaType) -> str:
    """string, number, boolean, null, value (anything), array, object or alternate."""
    if isinstance(typ, model.BuiltinType):
        return "number" if typ.json_type == "int" else typ.json_type
    if isinstance(typ, model.EnumType):
        return "string"
    if isinstance(typ, model.ArrayType):
        return "array"
    if isinstance(typ, model.ObjectType):
        return "object"
    return "alternate"


def contains_numbers(outer: str, inner: str) -> bool:
    """Whether number type ``outer`` accepts every value number type ``inner`` does."""
    outer_low, outer_high = NUMBER_RANGES[outer]
    inner_low, inner_high = NUMBER_RANGES[inner]
    fraction_ok = outer == "number" or inner != "number"
    return outer_low <= inner_low and inner_high <= outer_high and fraction_ok


def number_change(old: str, new: str) -> str | None:
    """The kind of change from number type ``old`` to ``new`` (None: the same JSON)."""
    wider = contains_numbers(new, old)
    narrower = contains_numbers(old, new)
    if wider and narrower:
        return None
    if wider:
        return "type widened"
    return "type narrowed" if narrower else "type changed"


def accepted_change(old: model.SchemaType, new: model.SchemaType) -> str | None:
    """How the JSON a position accepts changed from ``old`` to ``new`` (neither an alternate).

    None: the same JSON type, whose structure (object members, enum values, array elements)
    is for the walk to compare.
    """
    old_kind, new_kind = json_kind(old), json_kind(new)
    if old_kind != new_kind:
        if new_kind == "value":  # 'any' accepts everything
            return "type widened"
        return "type narrowed" if old_kind == "value" else "type changed"
    if old_kind == "string" and "str" in (old.name, new.name) and old.name != new.name:
        return "type widened" if new.name == "str" else "type narrowed"  # str and an enum
    if old_kind == "number":
        return number_change(old.name, new.name)
    return None
