"""``query-qmp-schema``: the schema as QEMU's introspection presents it.

A visitor over the resolved model producing SchemaInfo objects exactly as QEMU does:
commands and events in module order, then every type they reach in order of first use;
type names masked as numbers (in order of first use) unless unmasked; integer types
folded into ``int``; optional members with ``"default": null``.  QEMU decides ``if``
conditions when it compiles, after names are numbered: so does this, numbering the
whole schema first and dropping what the ``defines`` rule out afterwards — masked names
then come out as QEMU's binary reports them.  :func:`hide_deprecated` is what QEMU
answers under ``-compat deprecated-output=hide``.
"""

from __future__ import annotations

from typing import Any

from . import model
from .model import Condition, Schema, condition_holds

JSONObject = dict[str, Any]


class _Conditional:
    """A value that exists only where ``ifcond`` holds."""

    __slots__ = ("ifcond", "value")

    def __init__(self, value: Any, ifcond: Condition) -> None:
        self.value = value
        self.ifcond = ifcond


class _IntrospectionBuilder:
    def __init__(self, schema: Schema, unmask: bool) -> None:
        self.schema = schema
        self.unmask = unmask
        self.names: dict[str, str] = {}
        self.used: dict[str, model.SchemaType] = {}  # in order of first use
        self.entries: list[_Conditional] = []

    def name(self, name: str) -> str:
        if self.unmask:
            return name
        masked = self.names.get(name)
        if masked is None:
            masked = self.names[name] = str(len(self.names))
        return masked

    def use_type(self, typ: model.SchemaType) -> str:
        types = self.schema.types
        if json_type(typ) == "int":
            typ = types["int"]
        elif isinstance(typ, model.ArrayType) and (json_type(types[typ.element_type]) == "int"):
            typ = types["intList"]
        if typ.name not in self.used:
            self.used[typ.name] = typ
        if isinstance(typ, model.BuiltinType):
            return typ.name
        if isinstance(typ, model.ArrayType):
            return "[" + self.use_type(types[typ.element_type]) + "]"
        return self.name(typ.name)

    def use(self, name: str | None) -> str:
        return self.use_type(self.schema.types[name or "q_empty"])

    def add(
        self,
        name: str,
        meta: str,
        body: JSONObject,
        ifcond: Condition = None,
        features: tuple[model.Feature, ...] = (),
    ) -> None:
        if meta not in ("command", "event", "builtin", "array"):
            name = self.name(name)
        entry: JSONObject = {"name": name, "meta-type": meta}
        entry.update(body)
        if features:
            entry["features"] = [_Conditional(f.name, f.ifcond) for f in features]
        self.entries.append(_Conditional(entry, ifcond))

    def member(self, member: model.ObjectMember) -> _Conditional:
        entry: JSONObject = {"name": member.name, "type": self.use(member.type)}
        if member.optional:
            entry["default"] = None
        if member.features:
            entry["features"] = [_Conditional(f.name, f.ifcond) for f in member.features]
        return _Conditional(entry, member.ifcond)

    def visit_type(self, typ: model.SchemaType) -> None:
        if isinstance(typ, model.BuiltinType):
            self.add(typ.name, "builtin", {"json-type": typ.json_type})
        elif isinstance(typ, model.EnumType):
            members = []
            for value in typ.members:
                entry: JSONObject = {"name": value.name}
                if value.features:
                    entry["features"] = [_Conditional(f.name, f.ifcond) for f in value.features]
                members.append(_Conditional(entry, value.ifcond))
            values = [_Conditional(value.name, value.ifcond) for value in typ.members]
            self.add(
                typ.name, "enum", {"members": members, "values": values}, typ.ifcond, typ.features
            )
        elif isinstance(typ, model.ArrayType):
            element = self.use(typ.element_type)
            self.add(f"[{element}]", "array", {"element-type": element}, typ.ifcond)
        elif isinstance(typ, model.ObjectType):
            body: JSONObject = {"members": [self.member(m) for m in typ.members]}
            if typ.variants is not None:
                body["tag"] = typ.tag
                body["variants"] = [
                    _Conditional({"case": v.name, "type": self.use(v.type)}, v.ifcond)
                    for v in typ.variants
                ]
            self.add(typ.name, "object", body, typ.ifcond, typ.features)
        else:
            alternatives = [
                _Conditional({"type": self.use(v.type)}, v.ifcond) for v in typ.variants
            ]
            self.add(typ.name, "alternate", {"members": alternatives}, typ.ifcond, typ.features)

    def build(self) -> list[_Conditional]:
        for definition in self.schema.definitions_in_order():
            if isinstance(definition, model.Command):
                body: JSONObject = {
                    "arg-type": self.use(definition.arg_type),
                    "ret-type": self.use(definition.ret_type),
                }
                if definition.allow_oob:
                    body["allow-oob"] = True
                self.add(definition.name, "command", body, definition.ifcond, definition.features)
            elif isinstance(definition, model.Event):
                self.add(
                    definition.name,
                    "event",
                    {"arg-type": self.use(definition.arg_type)},
                    definition.ifcond,
                    definition.features,
                )
        visited = 0
        while visited < len(self.used):
            # visiting may use further types: they join the end of the queue
            self.visit_type(list(self.used.values())[visited])
            visited += 1
        return self.entries


def json_type(typ: model.SchemaType) -> str:
    """The JSON type of values of ``typ``: string, number, int, boolean, null,
    value (anything), array or object."""
    if isinstance(typ, model.BuiltinType):
        return typ.json_type
    if isinstance(typ, model.EnumType):
        return "string"
    if isinstance(typ, model.ArrayType):
        return "array"
    if isinstance(typ, model.ObjectType):
        return "object"
    return "value"


def _resolve(value: Any, defines: frozenset[str]) -> Any:
    """Drop what the conditions rule out; unwrap the rest."""
    if isinstance(value, _Conditional):
        return _resolve(value.value, defines)
    if isinstance(value, dict):
        return {key: _resolve(item, defines) for key, item in value.items()}
    if isinstance(value, list):
        return [
            _resolve(item, defines)
            for item in value
            if not isinstance(item, _Conditional) or condition_holds(item.ifcond, defines)
        ]
    return value


def introspect_schema(
    schema: Schema, defines: frozenset[str] = frozenset(), unmask: bool = False
) -> list[JSONObject]:
    """The ``query-qmp-schema`` reply for ``schema`` with ``defines`` true."""
    entries = _IntrospectionBuilder(schema, unmask).build()
    return _resolve(entries, defines)  # type: ignore[no-any-return]


# SchemaInfo's own deprecated members (QEMU's qapi/introspect.json marks
# SchemaInfoEnum.values deprecated): hidden from the answer by the same policy.
DEPRECATED_SCHEMA_INFO_MEMBERS = {"enum": ("values",)}


def hide_deprecated(entries: list[JSONObject]) -> list[JSONObject]:
    """``entries`` as QEMU 7.2 answers under ``deprecated-output=hide``: what
    :func:`zap_deprecated` leaves, without the answer's own deprecated members (an enum's
    ``values``), which QEMU's reply encoder hides as it hides any reply's."""
    kept = zap_deprecated(entries)
    for entry in kept:
        for key in DEPRECATED_SCHEMA_INFO_MEMBERS.get(entry["meta-type"], ()):
            entry.pop(key, None)
    return kept


def zap_deprecated(entries: list[JSONObject]) -> list[JSONObject]:
    """What QEMU's ``query-qmp-schema`` itself drops under ``deprecated-output=hide``:
    deprecated commands, events and types, and deprecated members of objects.

    Nothing is renamed: masked names stay what they were (as QEMU's, fixed when it was
    compiled), and the types only a dropped entry used stay listed.  The entries
    returned are copies: ``entries`` is left as it was.
    """
    kept = []
    for entry in entries:
        if _deprecated(entry):
            continue
        entry = dict(entry)
        if entry["meta-type"] == "object":
            entry["members"] = [m for m in entry["members"] if not _deprecated(m)]
        kept.append(entry)
    return kept


def _deprecated(entry: JSONObject) -> bool:
    return "deprecated" in entry.get("features", ())
