"""Generate the typed Python API of a QAPI schema.

For a schema this writes one module holding:

- every enum as a ``Literal`` of its values, every struct as a ``msgspec.Struct``
  (wire names kept through ``msgspec.field(name=...)``, optional members
  ``UNSET`` when absent, unknown members rejected), every union as one tagged struct
  per branch and an alias for their union, every alternate as an alias;
- ``Commands``: a ``Protocol`` with one method per command — keyword arguments from
  the command's ``data``, its ``returns`` as the return type.  The implementation of
  a server is a class that satisfies it; the QMP dispatcher, the human monitor and
  tests all call those methods;
- ``Events``: one method per event, which hands the event to a send function;
- ``COMMAND_METHODS``, ``COMMAND_ARGUMENTS`` and ``BOXED_COMMANDS``: what the
  dispatcher needs to turn a request's arguments into a call;
- ``Client``: the same commands as typed ``async def``\\ s over a QMP client, and a
  struct per event (:mod:`.python_client`).

Integer types carry their ranges (``msgspec.Meta``) so that decoding checks them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..schema import model
from .names import event_method_name, python_name, python_type_name
from .python_client import emit_client, emit_events

_INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "int": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    # QEMU takes negative numbers for its 64-bit unsigned types, for compatibility.
    "uint64": (-(2**63), 2**64 - 1),
    "size": (-(2**63), 2**64 - 1),
}
_BUILTIN_PYTHON = {"str": "str", "number": "float", "bool": "bool", "any": "Any", "null": "None"}
_STRUCT_OPTIONS = "kw_only=True, forbid_unknown_fields=True, dict=True"


def _int_alias(name: str) -> str:
    """The alias of a sized integer builtin: ``uint8`` -> ``Uint8``."""
    return name.capitalize()


class _Writer:
    def __init__(self, schema: model.Schema, source_name: str) -> None:
        self.schema = schema
        self.source_name = source_name
        self.lines: list[str] = []

    def emit(self, *lines: str) -> None:
        self.lines.extend(lines)

    # -- types -------------------------------------------------------------------------

    def type_ref(self, name: str) -> str:
        """The Python annotation for values of the type called ``name``."""
        typ = self.schema.types[name]
        if isinstance(typ, model.BuiltinType):
            if name in _INT_RANGES:
                return _int_alias(name)
            return _BUILTIN_PYTHON[name]
        if isinstance(typ, model.ArrayType):
            return f"list[{self.type_ref(typ.element_type)}]"
        if isinstance(typ, model.ObjectType) and typ.name == "q_empty":
            return "_Empty"
        return python_type_name(name)

    def field_line(self, member: model.ObjectMember) -> str:
        annotation = self.type_ref(member.type)
        attribute = python_name(member.name)
        renamed = attribute != member.name
        if member.optional:
            annotation = f"{annotation} | msgspec.UnsetType"
            if renamed:
                default = f" = msgspec.field(default=msgspec.UNSET, name={member.name!r})"
            else:
                default = " = msgspec.UNSET"
        else:
            default = f" = msgspec.field(name={member.name!r})" if renamed else ""
        return f"    {attribute}: {annotation}{default}"

    def docstring(self, doc: model.Doc | None, indent: str) -> None:
        if doc is None or not doc.body.strip():
            return
        first = doc.body.strip().split("\n\n", 1)[0].replace("\\", "\\\\").replace('"""', "'''")
        text = " ".join(first.split())
        self.emit(f'{indent}"""{text}"""', "")

    def struct(
        self,
        class_name: str,
        members: Iterable[model.ObjectMember],
        doc: model.Doc | None,
        options: str = _STRUCT_OPTIONS,
    ) -> None:
        self.emit("", "", f"class {class_name}(msgspec.Struct, {options}):")
        self.docstring(doc, "    ")
        fields = [self.field_line(member) for member in members]
        self.emit(*(fields or ["    pass"]))

    def union_branches(self, union: model.ObjectType) -> list[str]:
        tag = union.tag
        assert tag is not None and union.variants is not None
        base = [member for member in union.members if member.name != tag]
        names = []
        for variant in union.variants:
            branch = self.schema.types[variant.type]
            assert isinstance(branch, model.ObjectType)
            class_name = f"{python_type_name(union.name)}_{python_name(variant.name)}"
            options = f"{_STRUCT_OPTIONS}, tag_field={tag!r}, tag={variant.name!r}"
            self.struct(class_name, [*base, *branch.members], union.doc, options)
            names.append(class_name)
        return names

    def types(self) -> None:
        for name, (low, high) in _INT_RANGES.items():
            alias = _int_alias(name)
            if high >= 2**63:
                # msgspec cannot check bounds past int64; anything larger than uint64 is
                # already a float once framed (as in QEMU), so the type check catches it.
                self.emit(f"{alias} = Annotated[int, msgspec.Meta(ge={low})]")
            else:
                self.emit(f"{alias} = Annotated[int, msgspec.Meta(ge={low}, le={high})]")
        enums = [t for t in self.schema.types.values() if isinstance(t, model.EnumType)]
        for enum in enums:
            if enum.name == "QType":
                continue
            values = ", ".join(repr(member.name) for member in enum.members)
            self.emit(f"{python_type_name(enum.name)} = Literal[{values}]")
        self.emit("", "", f"class _Empty(msgspec.Struct, {_STRUCT_OPTIONS}):", "    pass")
        aliases: list[str] = []
        for typ in self.schema.types.values():
            if not isinstance(typ, model.ObjectType) or typ.is_implicit:
                continue
            if typ.variants is None:
                self.struct(python_type_name(typ.name), typ.members, typ.doc)
            else:
                branches = " | ".join(self.union_branches(typ))
                aliases.append(f"{python_type_name(typ.name)} = {branches}")
        for typ in self.schema.types.values():
            if isinstance(typ, model.AlternateType):
                choices = " | ".join(self.type_ref(variant.type) for variant in typ.variants)
                aliases.append(f"{python_type_name(typ.name)} = {choices}")
        if aliases:
            self.emit("", "", *aliases)

    # -- commands and events -------------------------------------------------------------

    def arguments_of(self, arg_type: str | None) -> list[model.ObjectMember]:
        if arg_type is None:
            return []
        typ = self.schema.types[arg_type]
        assert isinstance(typ, model.ObjectType)
        return list(typ.members)

    def parameters(self, members: list[model.ObjectMember]) -> str:
        if not members:
            return ""
        params = []
        for member in members:
            annotation = self.type_ref(member.type)
            if member.optional:
                params.append(
                    f"{python_name(member.name)}: {annotation} | msgspec.UnsetType = msgspec.UNSET"
                )
            else:
                params.append(f"{python_name(member.name)}: {annotation}")
        return ", *, " + ", ".join(params)

    def commands(self) -> None:
        self.emit("", "", "class Commands(Protocol):")
        self.emit('    """The commands of the schema: implement these to serve it."""')
        methods: list[tuple[str, str]] = []
        arguments: list[tuple[str, str]] = []
        boxed: list[str] = []
        for command in self.schema.commands.values():
            method = python_name(command.name)
            returns = self.type_ref(command.ret_type) if command.ret_type else "None"
            if command.boxed and command.arg_type:
                params = f", arguments: {self.type_ref(command.arg_type)}"
                boxed.append(command.name)
                arguments.append((command.name, self.type_ref(command.arg_type)))
            else:
                members = self.arguments_of(command.arg_type)
                params = self.parameters(members)
                if members:
                    arguments.append((command.name, f"_{python_type_name(method)}_arguments"))
            self.emit("")
            self.emit(f"    def {method}(self{params}) -> {returns}:")
            self.docstring(command.doc, "        ")
            if self.lines[-1] == "":
                self.lines.pop()
            self.emit("        ...")
            methods.append((command.name, method))
        for command in self.schema.commands.values():
            if command.boxed or not command.arg_type:
                continue
            method = python_name(command.name)
            self.struct(
                f"_{python_type_name(method)}_arguments", self.arguments_of(command.arg_type), None
            )
        self.emit("", "", "# The dispatcher's tables: wire names to methods and argument types.")
        self.emit("COMMAND_METHODS: dict[str, str] = {")
        self.emit(*(f"    {name!r}: {method!r}," for name, method in methods))
        self.emit("}")
        self.emit("COMMAND_ARGUMENTS: dict[str, Any] = {  # msgspec types to decode into")
        self.emit(*(f"    {name!r}: {cls}," for name, cls in arguments))
        self.emit("}")
        self.emit(f"BOXED_COMMANDS: frozenset[str] = frozenset({tuple(boxed)!r})")

    def events(self) -> None:
        self.emit("", "", "class Events:")
        self.emit('    """The events of the schema: each method hands its event to ``send``."""')
        self.emit("")
        self.emit(
            "    def __init__(self, send: Callable[[str, dict[str, Any] | None], None]) -> None:"
        )
        self.emit("        self._send = send")
        for event in self.schema.events.values():
            method = event_method_name(event.name)
            if event.boxed and event.arg_type:
                self.emit("")
                annotation = self.type_ref(event.arg_type)
                self.emit(f"    def {method}(self, data: {annotation}) -> None:")
                self.emit(f"        self._send({event.name!r}, msgspec.to_builtins(data))")
                continue
            members = self.arguments_of(event.arg_type)
            self.emit("")
            self.emit(f"    def {method}(self{self.parameters(members)}) -> None:")
            self.docstring(event.doc, "        ")
            if not members:
                self.emit(f"        self._send({event.name!r}, None)")
                continue
            required = [m for m in members if not m.optional]
            optional = [m for m in members if m.optional]
            pairs = ", ".join(f"{m.name!r}: {python_name(m.name)}" for m in required)
            self.emit(f"        data: dict[str, Any] = {{{pairs}}}")
            for member in optional:
                attribute = python_name(member.name)
                self.emit(f"        if {attribute} is not msgspec.UNSET:")
                self.emit(f"            data[{member.name!r}] = {attribute}")
            self.emit(f"        self._send({event.name!r}, data)")

    def module(self) -> str:
        self.emit(
            f'"""The Python API of the QAPI schema {self.source_name}.',
            "",
            "Generated by `pyqmp schema gen python`: do not edit; regenerate.",
            '"""',
            "",
            "# ruff: noqa: E501, F401, N801, N815, RUF100",
            "from __future__ import annotations",
            "",
            "from collections.abc import Callable",
            "from typing import Annotated, Any, ClassVar, Literal, Protocol, TypeVar, cast",
            "",
            "import msgspec",
            "from typing_extensions import deprecated",
            "",
            "from pyqmp.codegen import runtime as _runtime",
            "",
        )
        self.types()
        self.commands()
        self.events()
        emit_events(self)
        emit_client(self)
        return "\n".join(self.lines) + "\n"


def module_name_for(schema_path: str) -> str:
    """The generated module's name for a schema file: ``machine.json`` -> ``machine_qapi``."""
    stem = os.path.splitext(os.path.basename(schema_path))[0]
    return python_name(stem) + "_qapi"


def generate_python(schema: model.Schema, source_name: str) -> str:
    """The text of the Python module for ``schema`` (read from ``source_name``)."""
    return _Writer(schema, source_name).module()
