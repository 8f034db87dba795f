"""Errors a command handler raises, and the server part's own exceptions.

A handler signals failure by raising :class:`CommandError` with one of QMP's error
classes; the dispatcher answers ``{"error": {"class", "desc"}}``.  The classes are
QEMU's: clients branch on them, so no others are invented.
"""

from __future__ import annotations

GENERIC_ERROR = "GenericError"
COMMAND_NOT_FOUND = "CommandNotFound"
DEVICE_NOT_ACTIVE = "DeviceNotActive"
DEVICE_NOT_FOUND = "DeviceNotFound"
KVM_MISSING_CAP = "KVMMissingCap"

ERROR_CLASSES = frozenset(
    (GENERIC_ERROR, COMMAND_NOT_FOUND, DEVICE_NOT_ACTIVE, DEVICE_NOT_FOUND, KVM_MISSING_CAP)
)


class ServerError(Exception):
    """Base of the server part's exceptions."""


class CommandError(ServerError):
    """A command failed; ``error_class`` and ``desc`` go to the client as they are."""

    def __init__(self, desc: str, error_class: str = GENERIC_ERROR) -> None:
        if error_class not in ERROR_CLASSES:
            raise ValueError(f"unknown QMP error class {error_class!r}")
        super().__init__(desc)
        self.error_class = error_class
        self.desc = desc


class BindingError(ServerError):
    """The handlers given to a server do not fit its schema."""
