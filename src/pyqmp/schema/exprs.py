"""Check and normalize top-level expressions (stage two of the compiler).

Context-free checks of each definition's shape: its keys, the types of their values,
names, ``if`` conditions, features and flags.  Sugared forms are rewritten in place to
their canonical forms (``'member': 'type'`` becomes ``'member': {'type': 'type'}``, a
feature or enum value given as a string becomes ``{'name': ...}``), so the next stage
sees one form only.  Messages and their order match QEMU's front end.
"""

from __future__ import annotations

from .caches import GOOD_MEMBER_NAMES, remember_good
from .errors import SchemaError, SourceInfo
from .names import (
    c_name,
    check_defn_name,
    check_name_is_str,
    check_name_lower,
    is_valid_if_name,
)

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Iterable

    from .source import TopLevelExpr

_META_KEYS = frozenset(("enum", "struct", "union", "alternate", "command", "event"))
# (required keys, optional keys) of each kind of object
_EXPR_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "enum": (frozenset(("enum", "data")), frozenset(("if", "features", "prefix"))),
    "union": (
        frozenset(("union", "base", "discriminator", "data")),
        frozenset(("if", "features")),
    ),
    "alternate": (frozenset(("alternate", "data")), frozenset(("if", "features"))),
    "struct": (frozenset(("struct", "data")), frozenset(("base", "if", "features"))),
    "command": (
        frozenset(("command",)),
        frozenset(
            (
                "data",
                "returns",
                "boxed",
                "if",
                "features",
                "gen",
                "success-response",
                "allow-oob",
                "allow-preconfig",
                "coroutine",
            )
        ),
    ),
    "event": (frozenset(("event",)), frozenset(("data", "boxed", "if", "features"))),
}
_MEMBER_KEYS = (frozenset(("type",)), frozenset(("if", "features")))
_BRANCH_KEYS = (frozenset(("type",)), frozenset(("if",)))
_NAMED_KEYS = (frozenset(("name",)), frozenset(("if",)))
_ENUM_MEMBER_KEYS = (frozenset(("name",)), frozenset(("if", "features")))
_CONDITION_KEYS = (frozenset[str](), frozenset(("all", "any", "not")))

JSONObject = dict[str, object]


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in sorted(names))


def check_keys(
    value: JSONObject,
    info: SourceInfo,
    source: str,
    required: frozenset[str],
    optional: frozenset[str],
) -> None:
    if value.keys() - optional == required:
        return  # every required key, and no unknown one (in C: this runs ~2,500 times)
    missing = [key for key in required if key not in value]
    if missing:
        raise SchemaError(
            info, f"{source} misses key{'s' if len(missing) > 1 else ''} {_quoted(missing)}"
        )
    unknown = [key for key in value if key not in optional and key not in required]
    if unknown:
        allowed = set(required) | set(optional)
        raise SchemaError(
            info,
            f"{source} has unknown key{'s' if len(unknown) > 1 else ''} {_quoted(unknown)}\n"
            f"Valid keys are {_quoted(allowed)}.",
        )


def _check_flags(expr: JSONObject, info: SourceInfo) -> None:
    for key in ("gen", "success-response"):
        if key in expr and expr[key] is not False:
            raise SchemaError(info, f"flag '{key}' may only use false value")
    for key in ("boxed", "allow-oob", "allow-preconfig", "coroutine"):
        if key in expr and expr[key] is not True:
            raise SchemaError(info, f"flag '{key}' may only use true value")
    if "allow-oob" in expr and "coroutine" in expr:
        raise SchemaError(info, "flags 'allow-oob' and 'coroutine' are incompatible")


def check_if(expr: JSONObject, info: SourceInfo, source: str) -> None:
    """Check the optional ``if`` of ``expr``: a name, or ``all``/``any``/``not``."""
    cond = expr.get("if")
    if cond is not None:
        _check_if_cond(cond, info, source)


def _check_if_cond(cond: object, info: SourceInfo, source: str) -> None:
    if isinstance(cond, str):
        if not is_valid_if_name(cond):
            raise SchemaError(
                info, f"'if' condition '{cond}' of {source} is not a valid identifier"
            )
        return
    if not isinstance(cond, dict):
        raise SchemaError(info, f"'if' condition of {source} must be a string or an object")
    check_keys(cond, info, f"'if' condition of {source}", *_CONDITION_KEYS)
    if len(cond) != 1:
        raise SchemaError(info, f"'if' condition of {source} has conflicting keys")
    if "not" in cond:
        _check_if_cond(cond["not"], info, source)
        return
    operator = "all" if "all" in cond else "any"
    operands = cond[operator]
    if not isinstance(operands, list):
        raise SchemaError(info, f"'{operator}' condition of {source} must be an array")
    if not operands:
        raise SchemaError(info, f"'if' condition [] of {source} is useless")
    for operand in operands:
        _check_if_cond(operand, info, source)


def normalize_members(members: object) -> None:
    if isinstance(members, dict):
        for key, value in members.items():
            if not isinstance(value, dict):
                members[key] = {"type": value}


def check_type(
    value: object,
    info: SourceInfo,
    source: str,
    allow_array: bool = False,
    allow_dict: bool | str = False,
) -> None:
    """Check a type reference: a name, ``[name]`` if allowed, or members if allowed."""
    if value is None or isinstance(value, str):
        return
    if isinstance(value, list):
        if not allow_array:
            raise SchemaError(info, f"{source} cannot be an array")
        if len(value) != 1 or not isinstance(value[0], str):
            raise SchemaError(info, f"{source}: array type must contain single type name")
        return
    if not allow_dict:
        raise SchemaError(info, f"{source} should be a type name")
    if not isinstance(value, dict):
        raise SchemaError(info, f"{source} should be an object or type name")
    permissive = isinstance(allow_dict, str) and allow_dict in info.pragma.member_name_exceptions
    for key, member in value.items():
        name = key[1:] if key.startswith("*") else key
        if (
            name in GOOD_MEMBER_NAMES
            and type(member) is dict
            and "type" in member
            and len(member) == 1
            and type(member["type"]) is str
        ):
            continue  # the common case, known good: skip building messages
        key_source = f"{source} member '{key}'"
        check_name_lower(
            name, info, key_source, permit_upper=permissive, permit_underscore=permissive
        )
        cname = c_name(name, False)
        if cname == "u" or cname.startswith("has_"):
            raise SchemaError(info, f"{key_source} uses reserved name")
        if not permissive:
            remember_good(GOOD_MEMBER_NAMES, name)
        check_keys(member, info, key_source, *_MEMBER_KEYS)
        check_if(member, info, key_source)
        check_features(member.get("features"), info)
        check_type(member["type"], info, key_source, allow_array=True)


def check_features(features: object, info: SourceInfo) -> None:
    if features is None:
        return
    if not isinstance(features, list):
        raise SchemaError(info, "'features' must be an array")
    features[:] = [f if isinstance(f, dict) else {"name": f} for f in features]
    for feature in features:
        source = "'features' member"
        check_keys(feature, info, source, *_NAMED_KEYS)
        name = check_name_is_str(feature["name"], info, source)
        source = f"{source} '{name}'"
        check_name_lower(name, info, source)
        check_if(feature, info, source)


def _check_enum(expr: JSONObject, info: SourceInfo) -> None:
    name = expr["enum"]
    members = expr["data"]
    prefix = expr.get("prefix")
    if not isinstance(members, list):
        raise SchemaError(info, "'data' must be an array")
    if prefix is not None and not isinstance(prefix, str):
        raise SchemaError(info, "'prefix' must be a string")
    permissive = name in info.pragma.member_name_exceptions
    members[:] = [m if isinstance(m, dict) else {"name": m} for m in members]
    for member in members:
        source = "'data' member"
        check_keys(member, info, source, *_ENUM_MEMBER_KEYS)
        member_name = check_name_is_str(member["name"], info, source)
        source = f"{source} '{member_name}'"
        if member_name[:1].isdigit():
            member_name = "d" + member_name  # values may start with a digit
        check_name_lower(
            member_name, info, source, permit_upper=permissive, permit_underscore=permissive
        )
        check_if(member, info, source)
        check_features(member.get("features"), info)


def _check_struct(expr: JSONObject, info: SourceInfo) -> None:
    check_type(expr["data"], info, "'data'", allow_dict=str(expr["struct"]))
    if not isinstance(expr["data"], dict):  # QEMU crashes on a type name here
        raise SchemaError(info, "'data' must be an object")
    check_type(expr.get("base"), info, "'base'")


def _check_union(expr: JSONObject, info: SourceInfo) -> None:
    base = expr["base"]
    members = expr["data"]
    check_type(base, info, "'base'", allow_dict=str(expr["union"]))
    check_name_is_str(expr["discriminator"], info, "'discriminator'")
    if not isinstance(members, dict):
        raise SchemaError(info, "'data' must be an object")
    for key, value in members.items():
        source = f"'data' member '{key}'"
        check_keys(value, info, source, *_BRANCH_KEYS)
        check_if(value, info, source)
        check_type(value["type"], info, source, allow_array=not base)


def _check_alternate(expr: JSONObject, info: SourceInfo) -> None:
    members = expr["data"]
    if not members:
        raise SchemaError(info, "'data' must not be empty")
    if not isinstance(members, dict):
        raise SchemaError(info, "'data' must be an object")
    for key, value in members.items():
        source = f"'data' member '{key}'"
        check_name_lower(key, info, source)
        check_keys(value, info, source, *_BRANCH_KEYS)
        check_if(value, info, source)
        check_type(value["type"], info, source, allow_array=True)


def _check_command_or_event(expr: JSONObject, info: SourceInfo, meta: str) -> None:
    args = expr.get("data")
    boxed = expr.get("boxed", False)
    if boxed and args is None:
        raise SchemaError(info, "'boxed': true requires 'data'")
    check_type(args, info, "'data'", allow_dict=not boxed)
    if meta == "command":
        check_type(expr.get("returns"), info, "'returns'", allow_array=True)


def check_exprs(exprs: list[TopLevelExpr]) -> None:
    """Check every definition; raise the first :class:`SchemaError` QEMU would."""
    for expr, info, doc in exprs:
        if "include" in expr:
            continue
        metas = expr.keys() & _META_KEYS
        if len(metas) != 1:
            raise SchemaError(
                info,
                "expression must have exactly one key "
                "'enum', 'struct', 'union', 'alternate', 'command', 'event'",
            )
        meta = metas.pop()
        name = check_name_is_str(expr[meta], info, f"'{meta}'")
        info.set_defn(meta, name)
        check_defn_name(name, info, meta)
        if doc is not None:
            if doc.symbol != name:
                raise SchemaError(info, f"documentation comment is for '{doc.symbol}'")
            doc.check_expr(meta)
        elif info.pragma.doc_required:
            raise SchemaError(info, "documentation comment required")
        required, optional = _EXPR_KEYS[meta]
        check_keys(expr, info, meta, required, optional)
        if meta == "enum":
            _check_enum(expr, info)
        elif meta == "union":
            normalize_members(expr.get("base"))
            normalize_members(expr["data"])
            _check_union(expr, info)
        elif meta == "alternate":
            normalize_members(expr["data"])
            _check_alternate(expr, info)
        elif meta == "struct":
            normalize_members(expr["data"])
            _check_struct(expr, info)
        else:
            normalize_members(expr.get("data"))
            _check_command_or_event(expr, info, meta)
        check_if(expr, info, meta)
        check_features(expr.get("features"), info)
        _check_flags(expr, info)
