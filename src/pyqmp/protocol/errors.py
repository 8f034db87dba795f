"""QMP's error classes and the error texts QEMU writes, defined once; and the exceptions
of the protocol part.

:class:`ErrorClass` is the only definition of QMP's error classes in pyqmp: every other
part (the server's :class:`~pyqmp.server.errors.CommandError`, the machine, the client)
imports it.  The classes are QEMU's (``QapiErrorClass``); clients branch on them, so no
others exist.  The functions below are the error texts that more than one part writes
(the engine and the dispatcher both say a command "has not been found", the argument
checks of ``qmp_capabilities`` and of every command speak as QEMU's input visitor):
each is spelled here once, exactly as QEMU 7.2 spells it.

Problems a *client* causes (bad JSON, malformed requests, commands out of turn) are not
exceptions here: the engine answers them on the wire, exactly as QEMU does.  The
exceptions below are for the *application* driving the engine: calling it out of turn
(:class:`LocalProtocolError`) or handing it a value that has no JSON form
(:class:`EncodeError`).
"""

from __future__ import annotations

import enum


class ErrorClass(enum.StrEnum):
    """QMP's error classes, as QEMU 7.2 sends them in ``{"error": {"class": ...}}``."""

    GENERIC_ERROR = "GenericError"
    COMMAND_NOT_FOUND = "CommandNotFound"
    DEVICE_NOT_ACTIVE = "DeviceNotActive"
    DEVICE_NOT_FOUND = "DeviceNotFound"
    KVM_MISSING_CAP = "KVMMissingCap"


ERROR_CLASS_NAMES: frozenset[str] = frozenset(member.value for member in ErrorClass)


# -- what QEMU says -----------------------------------------------------------------------
# qapi/qmp-dispatch.c for commands, qapi/qobject-input-visitor.c for their arguments.


def command_not_found(name: str) -> str:
    return f"The command {name} has not been found"


def oob_not_supported(name: str) -> str:
    return f"The command {name} does not support OOB"


def parameter_missing(path: str) -> str:
    return f"Parameter '{path}' is missing"


def parameter_unexpected(path: str) -> str:
    return f"Parameter '{path}' is unexpected"


def parameter_type_invalid(path: str, expected: str) -> str:
    """``expected`` is a JSON type as QEMU names it: integer, string, array, object..."""
    return f"Invalid parameter type for '{path}', expected: {expected}"


def parameter_value_refused(path: str, value: str) -> str:
    """An enum value the parameter's type does not have."""
    return f"Parameter '{path}' does not accept value '{value}'"


def parameter_out_of_range(path: str, what: str) -> str:
    """A number outside its type (``what``: uint8, int32, a size...)."""
    return f"Parameter '{path}' expects {what}"


def argument_problem(kind: str, path: str, detail: str) -> str:
    """The text of an argument problem found by :mod:`pyqmp.schema.argument_walk`:
    ``kind`` missing, unexpected, value (``detail``: the value) or type (``detail``: the
    JSON type expected)."""
    if kind == "missing":
        return parameter_missing(path)
    if kind == "unexpected":
        return parameter_unexpected(path)
    if kind == "value":
        return parameter_value_refused(path, detail)
    return parameter_type_invalid(path, detail)


def disabled_by_policy(adjective: str, kind: str, name: str) -> str:
    """A deprecated or unstable interface refused by the compat policy (qapi-util.c):
    ``adjective`` is Deprecated or Unstable, ``kind`` command, parameter or value."""
    return f"{adjective} {kind} {name} disabled by policy"


# -- exceptions ---------------------------------------------------------------------------


class ProtocolError(Exception):
    """Base of every exception :mod:`pyqmp.protocol` raises."""


class LocalProtocolError(ProtocolError):
    """The application used the engine out of turn.

    For example: reading events before sending the greeting, answering a request twice,
    feeding data after end of input.  The message says what was expected.
    """


class EncodeError(ProtocolError, TypeError):
    """A value handed to the engine for sending has no JSON form.

    ``path`` is where in the value the problem is, as a JSON member path
    (``return.list[2].name``).
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol: what it sent cannot be taken in the connection's
    state (a client engine's server sending a reply to no request, bytes that are not
    JSON, no greeting).  The message says what was expected; the connection is over."""
