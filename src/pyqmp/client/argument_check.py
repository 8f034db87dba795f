"""Checking a command's arguments against the server's own schema before sending them.

A client without generated bindings can still refuse, locally, what the server would
refuse: :class:`ArgumentCheck` holds the schema rebuilt from the server's
``query-qmp-schema`` and raises :class:`~.errors.ArgumentError` for an unknown command and
for the first problem :func:`~pyqmp.schema.argument_walk.first_problem` finds (missing,
unexpected, wrong JSON type, an enum value the type lacks), worded as QEMU words it with
the texts of :mod:`pyqmp.protocol.errors`, which the server uses too.  What introspection
cannot tell is left to the server: an alternate's branches, an integer's range.  One text
differs: introspection calls every integer type ``int``, so a wrong JSON type given to an
unsigned member (``uint8`` ... ``uint64``, ``size``) is refused, as QEMU refuses it, but
worded as for ``int`` ("Invalid parameter type for 'x', expected: integer") where QEMU 7.2
says "Parameter 'x' expects uint64" (seen with ``migrate-set-parameters``).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..protocol.errors import ErrorClass, argument_problem, command_not_found
from ..schema import model
from ..schema.argument_walk import first_problem
from .errors import ArgumentError


class ArgumentCheck:
    """The argument checks of every command of ``schema`` (see the module's head)."""

    def __init__(self, schema: model.Schema) -> None:
        self.schema = schema

    def check(self, name: str, arguments: Mapping[str, object] | None) -> None:
        """Raise :class:`ArgumentError` if the server would refuse ``name(arguments)``."""
        command = self.schema.commands.get(name)
        if command is None:
            raise ArgumentError(name, ErrorClass.COMMAND_NOT_FOUND, command_not_found(name))
        problem = first_problem(self.schema, command.arg_type, arguments)
        if problem is not None:
            text = argument_problem(problem.kind, problem.path, problem.detail)
            raise ArgumentError(name, ErrorClass.GENERIC_ERROR, text)
