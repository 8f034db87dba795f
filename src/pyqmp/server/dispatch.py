"""From a command's name and arguments to its encoded result.

The dispatcher binds a schema to an object implementing the schema's generated
``Commands`` protocol.  A call decodes the arguments into the generated types (with
QEMU's error messages), calls the typed method, and encodes what it returns; the
tables that say which method and which argument type belong to a command come from
the generated module, so nothing here repeats the schema.  Results of commands whose
answer never changes (``query-qmp-schema``, ``query-commands``) are encoded once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import msgspec

from ..protocol.errors import command_not_found, parameter_unexpected
from ..protocol.negotiation import QMP_CAPABILITIES
from ..schema import model
from .arguments import decode_arguments
from .errors import COMMAND_NOT_FOUND, BindingError, CommandError

_encode = msgspec.json.Encoder().encode
_EMPTY_RESULT = b"{}"


class BoundCommand(NamedTuple):
    """One command ready to call."""

    name: str
    call: Callable[..., Any]
    arguments_type: Any  # a msgspec type for the arguments, or None if it takes none
    boxed: bool
    allow_oob: bool
    constant: bool  # the result never changes: encode it once


class Dispatcher:
    """Calls the typed handlers of a schema's commands."""

    def __init__(
        self,
        schema: model.Schema,
        handlers: object,
        methods: Mapping[str, str],
        argument_types: Mapping[str, Any],
        boxed: Iterable[str] = (),
        constant_results: Iterable[str] = (),
    ) -> None:
        self.schema = schema
        boxed = frozenset(boxed)
        constant = frozenset(constant_results)
        self.commands: dict[str, BoundCommand] = {}
        for name, command in schema.commands.items():
            if name == QMP_CAPABILITIES:
                continue  # the protocol engine runs it: no handler implements it
            method_name = methods.get(name)
            method = getattr(handlers, method_name, None) if method_name else None
            if method is None:
                raise BindingError(f"no handler for command '{name}' ({method_name})")
            self.commands[name] = BoundCommand(
                name,
                method,
                argument_types.get(name),
                name in boxed,
                command.allow_oob,
                name in constant,
            )
        self._constant_results: dict[str, bytes] = {}

    def allows_oob(self, name: str) -> bool:
        command = self.commands.get(name)
        return command is not None and command.allow_oob

    def __contains__(self, name: str) -> bool:
        return name in self.commands

    def call(self, name: str, arguments: dict[str, Any] | None) -> bytes:
        """Run command ``name``; return its result as JSON, or raise CommandError."""
        command = self.commands.get(name)
        if command is None:
            raise CommandError(command_not_found(name), COMMAND_NOT_FOUND)
        if command.constant:
            cached = self._constant_results.get(name)
            if cached is not None and not arguments:
                return cached
        if command.arguments_type is None:
            if arguments:
                unexpected = next(iter(arguments))
                raise CommandError(parameter_unexpected(unexpected))
            result = command.call()
        else:
            decoded = decode_arguments(
                self.schema,
                self.schema.commands[name].arg_type,
                arguments or {},
                command.arguments_type,
            )
            if command.boxed:
                result = command.call(decoded)
            else:
                result = command.call(**msgspec.structs.asdict(decoded))
        encoded = _EMPTY_RESULT if result is None else _encode(result)
        if command.constant:
            self._constant_results[name] = encoded
        return encoded
