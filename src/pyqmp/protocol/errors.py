"""The protocol part's exceptions, and the names of QMP's error classes.

Problems a *client* causes (bad JSON, malformed requests, commands out of turn) are not
exceptions here: the engine answers them on the wire, exactly as QEMU does.  The
exceptions below are for the *application* driving the engine: calling it out of turn
(:class:`LocalProtocolError`) or handing it a value that has no JSON form
(:class:`EncodeError`).  The error classes are QEMU's (``QapiErrorClass``); clients
branch on them, so no others exist.
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
