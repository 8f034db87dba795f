"""Python spellings of QAPI names.

QAPI names may hold ``-`` and ``.`` and may be Python keywords; the generated API uses
valid identifiers and keeps the wire names in its tables.
"""

from __future__ import annotations

import keyword
import re

_NOT_IDENTIFIER_RE = re.compile(r"[^A-Za-z0-9_]")


def python_name(name: str) -> str:
    """A member, argument or method name: ``node-name`` becomes ``node_name``."""
    result = _NOT_IDENTIFIER_RE.sub("_", name)
    if result[:1].isdigit():
        result = "_" + result
    if keyword.iskeyword(result) or keyword.issoftkeyword(result) or result in ("self",):
        result += "_"
    return result


# Names the generated module defines or imports itself: a schema type of that name gets
# a trailing '_' instead of silently replacing them.
RESERVED_TYPE_NAMES = frozenset(
    (
        *("Any", "Literal", "Protocol", "Annotated", "Callable", "Commands", "Events", "msgspec"),
        *("ClassVar", "TypeVar", "cast", "deprecated", "Client", "AnyEvent", "EVENT_TYPES"),
        *("Int", "Int8", "Int16", "Int32", "Int64", "Uint8", "Uint16", "Uint32", "Uint64", "Size"),
    )
)


def python_type_name(name: str) -> str:
    """A class or alias name: QAPI type names are CamelCase already."""
    result = _NOT_IDENTIFIER_RE.sub("_", name)
    if result.startswith("__"):
        result = "X" + result  # a leading '__' would be name-mangled inside classes
    if result in RESERVED_TYPE_NAMES:
        result += "_"
    return result


def event_method_name(name: str) -> str:
    """``BALLOON_CHANGE`` becomes ``balloon_change``."""
    return python_name(name.lower())
