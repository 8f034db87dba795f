"""Naming rules of the QAPI schema language.

Names are ASCII letters, digits, ``-`` and ``_``, starting with a letter, optionally
prefixed by a downstream ``__RFQDN_`` and/or ``x-``.  Types are CamelCase, commands and
members lower-case, events upper-case; ``q_`` is reserved, and so are the member names
that would clash with generated C (``u``, ``has_*``).  ``c_name`` is the C spelling QEMU
uses to decide whether two names collide.
"""

from __future__ import annotations

import re

from .caches import (
    C_NAMES,
    C_NAMES_UNPROTECTED,
    GOOD_LOWER_NAMES,
    remember_c_name,
    remember_good,
)
from .errors import SchemaError, SourceInfo

_VALID_NAME_RE = re.compile(r"(__[a-z0-9.-]+_)?(x-)?([a-z][a-z0-9_-]*)$", re.IGNORECASE)
_CAMEL_RE = re.compile(r"[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$")
_UPPER_FORBIDDEN_RE = re.compile(r"[a-z-]")
_NON_C_RE = re.compile(r"[^A-Za-z0-9_]")
_IF_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")

# Words a C name must not be: C89/C99/C11 keywords, GCC's, C++'s, and names that
# system headers define as macros.
_TICKLISH_WORDS = frozenset(
    [
        "auto",
        "break",
        "case",
        "char",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extern",
        "float",
        "for",
        "goto",
        "if",
        "int",
        "long",
        "register",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "struct",
        "switch",
        "typedef",
        "union",
        "unsigned",
        "void",
        "volatile",
        "while",
        "inline",
        "restrict",
        "_Bool",
        "_Complex",
        "_Imaginary",
        "_Alignas",
        "_Alignof",
        "_Atomic",
        "_Generic",
        "_Noreturn",
        "_Static_assert",
        "_Thread_local",
        "asm",
        "typeof",
        "bool",
        "catch",
        "class",
        "const_cast",
        "delete",
        "dynamic_cast",
        "explicit",
        "false",
        "friend",
        "mutable",
        "namespace",
        "new",
        "operator",
        "private",
        "protected",
        "public",
        "reinterpret_cast",
        "static_cast",
        "template",
        "this",
        "throw",
        "true",
        "try",
        "typeid",
        "typename",
        "using",
        "virtual",
        "wchar_t",
        "and",
        "and_eq",
        "bitand",
        "bitor",
        "compl",
        "not",
        "not_eq",
        "or",
        "or_eq",
        "xor",
        "xor_eq",
        "unix",
        "errno",
        "mips",
        "sparc",
        "i386",
        "linux",
    ]
)


def c_name(name: str, protect: bool = True) -> str:
    """The C identifier QEMU derives from ``name`` (remembered: names repeat a lot)."""
    if protect:
        cname = C_NAMES.get(name)
        if cname is None:
            cname = remember_c_name(C_NAMES, name, _c_name(name, True))
        return cname
    cname = C_NAMES_UNPROTECTED.get(name)
    if cname is None:
        cname = remember_c_name(C_NAMES_UNPROTECTED, name, _c_name(name, False))
    return cname


def _c_name(name: str, protect: bool) -> str:
    cname = name.replace("-", "_").replace(".", "_")
    if not (cname.isascii() and cname.isidentifier()):
        cname = _NON_C_RE.sub("_", name)
    if protect and cname and (cname in _TICKLISH_WORDS or cname[0].isdigit()):
        return "q_" + cname
    return cname


def is_valid_if_name(name: str) -> bool:
    return _IF_NAME_RE.fullmatch(name) is not None


def check_name_is_str(name: object, info: SourceInfo, source: str) -> str:
    if not isinstance(name, str):
        raise SchemaError(info, f"{source} requires a string name")
    return name


def check_name_str(name: str, info: SourceInfo, source: str) -> str:
    """Check the general shape of ``name``; return its stem (prefixes removed)."""
    match = _VALID_NAME_RE.match(name)
    if not match or c_name(name, False).startswith("q_"):
        raise SchemaError(info, f"{source} has an invalid name")
    return match.group(3)


def check_name_upper(name: str, info: SourceInfo, source: str) -> None:
    stem = check_name_str(name, info, source)
    if _UPPER_FORBIDDEN_RE.search(stem):
        raise SchemaError(info, f"name of {source} must not use lowercase or '-'")


# The usual good name, no prefix: one regex instead of the general rules (q- is reserved).
_PLAIN_LOWER_RE = re.compile(r"(?!q-)[a-z][a-z0-9-]*")


def check_name_lower(
    name: str,
    info: SourceInfo,
    source: str,
    permit_upper: bool = False,
    permit_underscore: bool = False,
) -> None:
    if name in GOOD_LOWER_NAMES or _PLAIN_LOWER_RE.fullmatch(name):
        return
    stem = check_name_str(name, info, source)
    if (not permit_upper and stem.lower() != stem) or (not permit_underscore and "_" in stem):
        raise SchemaError(info, f"name of {source} must not use uppercase or '_'")
    if stem.lower() == stem and "_" not in stem:
        remember_good(GOOD_LOWER_NAMES, name)


def check_name_camel(name: str, info: SourceInfo, source: str) -> None:
    stem = check_name_str(name, info, source)
    if not _CAMEL_RE.match(stem):
        raise SchemaError(info, f"name of {source} must use CamelCase")


def check_defn_name(name: str, info: SourceInfo, meta: str) -> None:
    if meta == "event":
        check_name_upper(name, info, meta)
    elif meta == "command":
        check_name_lower(
            name,
            info,
            meta,
            permit_underscore=name in info.pragma.command_name_exceptions,
        )
    else:
        check_name_camel(name, info, meta)
        if name.endswith("List"):
            raise SchemaError(info, f"{meta} name should not end in 'List'")
