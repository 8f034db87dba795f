"""The client part's exceptions: one hierarchy, each error saying where it happened.

Every exception a :class:`~pyqmp.client.QMPClient` raises on purpose is a
:class:`QMPClientError`, and also the standard exception a caller would reach for:
:class:`CommandTimeout` is a :class:`TimeoutError`, :class:`ConnectionLost` and
:class:`ConnectError` are :class:`ConnectionError`\\ s.  The names are qemu.qmp's where it
has them, so that moving from qemu.qmp is a rename.  A cancelled call raises asyncio's
own :class:`~asyncio.CancelledError`, never one of these.
"""

from __future__ import annotations


class QMPClientError(Exception):
    """Base of every exception :mod:`pyqmp.client` raises."""


class ExecuteError(QMPClientError):
    """The server answered a command with an error (or, for :class:`ArgumentError`,
    the client refused to send it).

    ``command`` is the command's name, ``error_class`` and ``desc`` the error's members
    as QMP sends them (``GenericError``, ``CommandNotFound``...).  ``str()`` is ``desc``,
    as with qemu.qmp.
    """

    def __init__(self, command: str, error_class: str, desc: str) -> None:
        super().__init__(desc)
        self.command = command
        self.error_class = error_class
        self.desc = desc

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.command!r}, {self.error_class!r}, {self.desc!r})"


class ArgumentError(ExecuteError):
    """Arguments the server's schema does not take, caught before sending: the error
    class and text are those the server would have answered (QEMU's wording)."""


class CommandTimeout(QMPClientError, TimeoutError):
    """No reply came within the call's timeout.  The request keeps its id: its late
    reply is recognised and dropped, and the next call gets its own reply."""

    def __init__(self, command: str, timeout: float, where: str) -> None:
        super().__init__(f"{where}: no reply to {command!r} within {timeout:g} s")
        self.command = command
        self.timeout = timeout


class ConnectionLost(QMPClientError, ConnectionError):
    """The connection is gone (or was never there): every pending call fails with this,
    and so does every call until the client connects again."""


class ConnectError(QMPClientError, ConnectionError):
    """Connecting, reading the greeting or negotiating failed; the message says which
    and where, and ``__cause__`` holds the underlying error."""


class ServerProtocolError(ConnectionLost):
    """The server broke the protocol (the message says how); the connection was closed."""
