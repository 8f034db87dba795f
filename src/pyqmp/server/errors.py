"""Errors a command handler raises, and the server part's own exceptions.

A handler signals failure by raising :class:`CommandError` with one of QMP's error
classes; the dispatcher answers ``{"error": {"class", "desc"}}``.  The classes are
:class:`pyqmp.protocol.ErrorClass`, defined once there; the names below are that
definition under the names handlers have always imported.
"""

from __future__ import annotations

from ..protocol.errors import ERROR_CLASS_NAMES, ErrorClass

GENERIC_ERROR = ErrorClass.GENERIC_ERROR
COMMAND_NOT_FOUND = ErrorClass.COMMAND_NOT_FOUND
DEVICE_NOT_ACTIVE = ErrorClass.DEVICE_NOT_ACTIVE
DEVICE_NOT_FOUND = ErrorClass.DEVICE_NOT_FOUND
KVM_MISSING_CAP = ErrorClass.KVM_MISSING_CAP

ERROR_CLASSES = ERROR_CLASS_NAMES


class ServerError(Exception):
    """Base of the server part's exceptions."""


class CommandError(ServerError):
    """A command failed; ``error_class`` and ``desc`` go to the client as they are.

    ``error_class`` is an :class:`~pyqmp.protocol.ErrorClass` (or its name as QMP
    spells it); anything else is a bug in the handler, refused with ValueError.
    """

    def __init__(self, desc: str, error_class: ErrorClass | str = GENERIC_ERROR) -> None:
        if error_class not in ERROR_CLASS_NAMES:
            raise ValueError(f"unknown QMP error class {error_class!r}")
        super().__init__(desc)
        self.error_class = ErrorClass(error_class)
        self.desc = desc


class BindingError(ServerError):
    """The handlers given to a server do not fit its schema."""
