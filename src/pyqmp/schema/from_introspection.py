"""A schema model rebuilt from a server's ``query-qmp-schema`` answer.

This is the other direction of :mod:`.introspect`: a running server's introspection (QEMU's
or pyqmp's) becomes a :class:`~.model.Schema` that the code generator and the client's
argument checks read like one loaded from a file, so that a user can bind exactly the
server they run.  QEMU masks type names as numbers; a masked type is named from where it
is first used, walking commands and events in order: a command's arguments become
``<Command>Arguments``, its result ``<Command>Result``, an event's ``<Event>Data``, a
member's type ``<Owner><Member>``, a union branch ``<Union><Branch>``, an array's element
``<Array>Element``.  The answer is untrusted input: every entry is checked, and a
malformed one raises :class:`IntrospectionError` saying which entry and what was expected.
What introspection does not carry (doc comments, ``if`` conditions, sized integer types) is
absent from the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import model

_BUILTIN_JSON_TYPES = {
    "str": "string", "number": "number", "int": "int", "bool": "boolean",
    "null": "null", "any": "value",
}  # fmt: skip
_MASKED_RE = re.compile(r"^\d+$")
_WORD_RE = re.compile(r"[A-Za-z0-9]+")


class IntrospectionError(ValueError):
    """An introspection answer that is not in QEMU's shape; says where and what was expected."""


def _camel(name: str) -> str:
    """``query-status`` -> ``QueryStatus``, ``BALLOON_CHANGE`` -> ``BalloonChange``."""
    return "".join(
        word.capitalize() if word.isupper() else word[:1].upper() + word[1:]
        for word in _WORD_RE.findall(name)
    )


def _features(entry: Mapping[str, Any], where: str) -> tuple[model.Feature, ...]:
    features = entry.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise IntrospectionError(f"{where}: 'features' must be a list of strings")
    return tuple(model.Feature(name, None, None) for name in features)


def _string(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise IntrospectionError(f"{where}: expected a string '{key}', got {value!r}")
    return value


def _list(entry: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = entry.get(key)
    if not isinstance(value, list):
        raise IntrospectionError(f"{where}: expected a list '{key}', got {type(value).__name__}")
    return value


class _Rebuilder:
    def __init__(self, entries: Any) -> None:
        if not isinstance(entries, list):
            raise IntrospectionError(
                f"the answer must be a list of entries, got {type(entries).__name__}"
            )
        self.entries: dict[str, dict[str, Any]] = {}
        self.commands: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            where = f"entry {index}"
            if not isinstance(entry, dict):
                raise IntrospectionError(f"{where}: expected an object")
            name = _string(entry, "name", where)
            meta = _string(entry, "meta-type", f"{where} ('{name}')")
            if meta == "command":
                self.commands.append(entry)
            elif meta == "event":
                self.events.append(entry)
            elif meta in ("builtin", "enum", "array", "object", "alternate"):
                self.entries[name] = entry
            else:
                raise IntrospectionError(f"{where} ('{name}'): unknown meta-type '{meta}'")
        self.names: dict[str, str] = {}  # wire name -> name in the model
        self.taken: set[str] = set()
        self.types: dict[str, model.SchemaType] = {}

    # -- names ----------------------------------------------------------------------------

    def name_type(self, wire_name: str, wanted: str) -> str:
        """The model's name for type ``wire_name``, choosing ``wanted`` if it is masked and
        not yet named (then the types it uses are named from it)."""
        known = self.names.get(wire_name)
        if known is not None:
            return known
        entry = self.entries.get(wire_name)
        if entry is None:
            raise IntrospectionError(f"type '{wire_name}' is used but not described")
        masked = _MASKED_RE.match(wire_name) is not None
        if entry["meta-type"] == "array":
            element = _string(entry, "element-type", f"array '{wire_name}'")
            element_name = self.name_type(element, wanted + "Element")
            name = element_name + "List"
            self.names[wire_name] = name
            self.types[name] = model.ArrayType(name, None, element_name, None)
            return name
        name = wanted if masked else wire_name
        if masked:
            while name in self.taken or name in self.entries:
                name += "_"
        self.taken.add(name)
        self.names[wire_name] = name
        self.build(wire_name, name, entry)
        return name

    # -- types ----------------------------------------------------------------------------

    def build(self, wire_name: str, name: str, entry: dict[str, Any]) -> None:
        where = f"type '{wire_name}'"
        meta = entry["meta-type"]
        if meta == "builtin":
            if wire_name not in _BUILTIN_JSON_TYPES:
                raise IntrospectionError(f"{where}: unknown built-in type")
            self.types[name] = model.BuiltinType(name, _BUILTIN_JSON_TYPES[wire_name])
        elif meta == "enum":
            values = _list(entry, "values", where)
            if not all(isinstance(value, str) for value in values):
                raise IntrospectionError(f"{where}: enum values must be strings")
            members = tuple(model.EnumMember(value, None, (), None) for value in values)
            self.types[name] = model.EnumType(
                name, None, None, None, _features(entry, where), members, None
            )
        elif meta == "alternate":
            variants = []
            for index, member in enumerate(_list(entry, "members", where)):
                if not isinstance(member, dict):
                    raise IntrospectionError(f"{where}: member {index} must be an object")
                branch = _string(member, "type", f"{where} member {index}")
                branch_name = self.name_type(branch, f"{name}{index}")
                variants.append(model.Variant(branch_name, branch_name, None, None))
            self.types[name] = model.AlternateType(
                name, None, None, None, _features(entry, where), tuple(variants)
            )
        else:
            self.build_object(name, entry, where)

    def build_object(self, name: str, entry: dict[str, Any], where: str) -> None:
        members = []
        for index, member in enumerate(_list(entry, "members", where)):
            if not isinstance(member, dict):
                raise IntrospectionError(f"{where}: member {index} must be an object")
            member_name = _string(member, "name", f"{where} member {index}")
            member_where = f"{where} member '{member_name}'"
            type_name = self.name_type(
                _string(member, "type", member_where), name + _camel(member_name)
            )
            members.append(
                model.ObjectMember(
                    member_name,
                    type_name,
                    "default" in member,
                    None,
                    _features(member, member_where),
                    name,
                    None,
                )
            )
        tag = entry.get("tag")
        variants = None
        if tag is not None:
            if not isinstance(tag, str) or tag not in {m.name for m in members}:
                raise IntrospectionError(f"{where}: 'tag' must name one of its members")
            variants = []
            for index, variant in enumerate(_list(entry, "variants", where)):
                if not isinstance(variant, dict):
                    raise IntrospectionError(f"{where}: variant {index} must be an object")
                case = _string(variant, "case", f"{where} variant {index}")
                branch = self.name_type(
                    _string(variant, "type", f"{where} variant '{case}'"), name + _camel(case)
                )
                if not isinstance(self.types.get(branch), model.ObjectType):
                    raise IntrospectionError(f"{where}: variant '{case}' must be an object type")
                variants.append(model.Variant(case, branch, None, None))
        self.types[name] = model.ObjectType(
            name,
            None,
            None,
            None,
            _features(entry, where),
            None,
            tuple(members),
            tuple(members),
            tag,
            None if variants is None else tuple(variants),
            "union" if variants is not None else "struct",
        )

    # -- commands and events -------------------------------------------------------------

    def arguments(self, entry: dict[str, Any], wanted: str, where: str) -> tuple[str | None, bool]:
        """The name of the arguments (data) type, None when it has no members; and whether
        it is a union (so the generated call takes it whole, boxed)."""
        wire = _string(entry, "arg-type", where)
        name = self.name_type(wire, wanted)
        typ = self.types.get(name)
        if not isinstance(typ, model.ObjectType):
            raise IntrospectionError(f"{where}: 'arg-type' must be an object type")
        return (name if typ.members or typ.variants else None), typ.variants is not None

    def schema(self, source: str) -> model.Schema:
        commands: dict[str, model.Command] = {}
        for entry in self.commands:
            name = entry["name"]
            where = f"command '{name}'"
            arg_type, boxed = self.arguments(entry, _camel(name) + "Arguments", where)
            ret_type: str | None = self.name_type(
                _string(entry, "ret-type", where), _camel(name) + "Result"
            )
            returned = self.types.get(ret_type) if ret_type else None
            if isinstance(returned, model.ObjectType) and not returned.members:
                ret_type = None  # nothing, or an empty object: the same on the wire
            allow_oob = entry.get("allow-oob", False) is True
            commands[name] = model.Command(
                name,
                None,
                None,
                None,
                _features(entry, where),
                arg_type,
                ret_type,
                True,
                True,
                boxed,
                allow_oob,
                False,
                False,
            )
        events: dict[str, model.Event] = {}
        for entry in self.events:
            name = entry["name"]
            where = f"event '{name}'"
            arg_type, boxed = self.arguments(entry, _camel(name) + "Data", where)
            events[name] = model.Event(
                name, None, None, None, _features(entry, where), arg_type, boxed
            )
        for wire_name in self.entries:  # types nothing reaches: named after themselves
            self.name_type(wire_name, f"Type{wire_name}")
        module = model.Module(source, (*commands, *events, *self.types))
        return model.Schema(source, dict(self.types), commands, events, (module,), ())


def schema_from_introspection(entries: Any, source: str) -> model.Schema:
    """The schema a ``query-qmp-schema`` answer describes (``source`` names where it came
    from, for the generated code and errors)."""
    return _Rebuilder(entries).schema(source)
