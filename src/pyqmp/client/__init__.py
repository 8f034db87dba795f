"""The QMP client: drive any QMP server (QEMU included) from asyncio, and never hang.

::

    from pyqmp.client import QMPClient, ExecuteError, CommandTimeout, ConnectionLost

    async with QMPClient("vm1", timeout=5) as qmp:
        await qmp.connect("unix:/run/vm1.qmp", timeout=5)
        with qmp.events("STOP") as stopped:
            await qmp.execute("stop")
            await stopped.get(timeout=5)

:mod:`.qmp_client` holds the client (:class:`QMPClient`, :class:`Reconnect`),
:mod:`.events` its bounded event streams, :mod:`.errors` its exceptions and
:mod:`.address` the addresses it takes.  The protocol itself is the sans-IO
:class:`pyqmp.protocol.ClientConnection`.
"""

from ..protocol import Event
from ..schema.from_introspection import IntrospectionError
from .address import Address, AddressError, parse_address
from .argument_check import ArgumentCheck
from .errors import (
    ArgumentError,
    CommandTimeout,
    ConnectError,
    ConnectionLost,
    ExecuteError,
    QMPClientError,
    ServerProtocolError,
)
from .events import EventStream
from .qmp_client import QMPClient, Reconnect, Runstate

__all__ = [
    "Address",
    "AddressError",
    "ArgumentCheck",
    "ArgumentError",
    "CommandTimeout",
    "ConnectError",
    "ConnectionLost",
    "Event",
    "EventStream",
    "ExecuteError",
    "IntrospectionError",
    "QMPClient",
    "QMPClientError",
    "Reconnect",
    "Runstate",
    "ServerProtocolError",
    "parse_address",
]
