"""An asyncio QMP client whose every wait is bounded by the caller's policy.

:class:`QMPClient` brings the I/O to the sans-IO engine
(:class:`~pyqmp.protocol.ClientConnection`) through an :class:`asyncio.Protocol`: a reply's
path from bytes in to the caller's future is a few function calls, no task switch.  Its
one rule, the 2010 thread's: how long to wait is the client's choice, never the server's.
A call may carry a timeout (or take the client's default); when it expires, or the call is
cancelled, the request keeps its id, its late reply is dropped, and the next call gets its
own.  A lost connection fails every pending call at once with :class:`ConnectionLost`, and
every later call too, until the client connects again — by itself, with backoff, when it
has a :class:`Reconnect` policy.  Events go to bounded :class:`~.events.EventStream`\\ s.

The states are qemu.qmp's (idle, connecting, running, disconnecting) plus reconnecting;
the names of the API are qemu.qmp's where it has them.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import ssl as ssl_module
import weakref
from collections.abc import Iterator, Mapping
from typing import Any, Final, NamedTuple

from .. import protocol
from ..protocol import ClientConnection, Event, Limits
from ..schema import model
from ..schema.from_introspection import IntrospectionError, schema_from_introspection
from .address import Address, AddressLike, parse_address
from .argument_check import ArgumentCheck
from .errors import (
    CommandTimeout,
    ConnectError,
    ConnectionLost,
    ExecuteError,
    QMPClientError,
    ServerProtocolError,
)
from .events import DEFAULT_MAXSIZE, EventMatch, EventStream, matches

log = logging.getLogger(__name__)

#: The timeout of connect() when none is given: connecting never waits forever.
DEFAULT_CONNECT_TIMEOUT: Final = 30.0
_SCHEMA_COMMAND: Final = "query-qmp-schema"


class Runstate(enum.Enum):
    """Where a client is in its life."""

    IDLE = "idle"
    CONNECTING = "connecting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    DISCONNECTING = "disconnecting"


class Reconnect(NamedTuple):
    """How a client reconnects after losing its connection: the first attempt after
    ``initial_delay`` seconds, each next one ``factor`` times later, at most
    ``max_delay`` apart, giving up after ``max_attempts`` (None: never)."""

    initial_delay: float = 0.1
    max_delay: float = 5.0
    factor: float = 2.0
    max_attempts: int | None = None

    def delays(self) -> Iterator[float]:
        """The delay before each attempt, as many as there are attempts."""
        delay = self.initial_delay
        attempts = itertools.count() if self.max_attempts is None else range(self.max_attempts)
        for _ in attempts:
            yield min(delay, self.max_delay)
            delay *= self.factor


class _Unset(enum.Enum):
    UNSET = "unset"


_UNSET: Final = _Unset.UNSET


class _Wire(asyncio.Protocol):
    """The transport's callbacks, handed straight to the client."""

    __slots__ = ("client", "transport")

    def __init__(self, client: QMPClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not asyncio.Transport subclasses, but behave as one)
        self.transport = transport  # type: ignore[assignment]
        self.client._wire_made(self)

    def data_received(self, data: bytes) -> None:
        self.client._data_received(self, data)

    def eof_received(self) -> bool:
        self.client._data_received(self, b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._wire_lost(self, exc)


class QMPClient:
    """A QMP client::

        async with QMPClient("vm1") as qmp:
            await qmp.connect("unix:/run/vm1.sock", timeout=5)
            status = await qmp.execute("query-status", timeout=1)

    ``timeout`` is the default of every :meth:`execute` (None: wait as long as the
    connection lives).  ``reconnect`` re-establishes a lost connection in the
    background.  ``enable_oob`` asks for out-of-band execution when the server offers
    it.  ``limits`` bound the server's messages (QEMU's own limits by default).
    ``check_arguments`` reads the server's schema at every connection
    (:meth:`load_schema`) and checks every call's arguments against it before sending.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        timeout: float | None = None,
        reconnect: Reconnect | None = None,
        enable_oob: bool = False,
        limits: Limits = protocol.DEFAULT_LIMITS,
        check_arguments: bool = False,
    ) -> None:
        self.name = name
        self.check_arguments = check_arguments
        #: The checks of :meth:`load_schema`, once loaded (None: arguments go unchecked).
        self.argument_check: ArgumentCheck | None = None
        self.default_timeout = timeout
        self.reconnect_policy = reconnect
        self.enable_oob = enable_oob
        self._limits = limits
        self._runstate = Runstate.IDLE
        self._engine: ClientConnection | None = None
        self._wire: _Wire | None = None
        self._transport: asyncio.Transport | None = None
        self._address: Address | None = None
        self._ssl: ssl_module.SSLContext | None = None
        self._connect_timeout = DEFAULT_CONNECT_TIMEOUT
        # Calls waiting for their reply: id -> (command name, future).
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._out: list[bytes] = []  # requests to write at the end of this turn of the loop
        # Waiting for the greeting, then for negotiation; set by _data_received.
        self._handshake: asyncio.Future[Any] | None = None
        self._streams: weakref.WeakSet[EventStream] = weakref.WeakSet()
        self._lost: ConnectionLost | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.greeting: protocol.Greeting | None = None
        #: Replies that came after their call timed out or was cancelled (dropped).
        self.late_replies = 0
        #: Times the connection was re-established by the reconnect policy.
        self.reconnects = 0

    # -- state ---------------------------------------------------------------------------

    @property
    def runstate(self) -> Runstate:
        return self._runstate

    @property
    def address(self) -> Address | None:
        return self._address

    @property
    def oob_enabled(self) -> bool:
        return self._engine is not None and self._engine.oob_enabled

    def __repr__(self) -> str:
        return f"QMPClient({self._where()}, {self._runstate.value})"

    def _where(self) -> str:
        label = f"qmp[{self.name}]" if self.name else "qmp"
        return f"{label} {self._address}" if self._address is not None else label

    # -- connecting ----------------------------------------------------------------------

    async def connect(
        self,
        address: AddressLike,
        *,
        timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        """Connect to ``address`` (``unix:PATH``, ``tcp:HOST:PORT``, a path or a
        ``(host, port)`` pair), read the greeting and negotiate, all within
        ``timeout`` seconds.  ``ssl`` makes it a TLS connection.

        Raises :class:`ConnectError` (with the cause) if any step fails; the client is
        idle again then.
        """
        if self._runstate is not Runstate.IDLE:
            raise ConnectError(f"{self._where()}: connect() while {self._runstate.value}")
        self._address = parse_address(address)
        self._ssl = ssl
        self._server_hostname = server_hostname
        self._connect_timeout = DEFAULT_CONNECT_TIMEOUT if timeout is None else timeout
        self._runstate = Runstate.CONNECTING
        try:
            await self._establish(timeout)
        except BaseException:
            self._runstate = Runstate.IDLE
            raise
        self._runstate = Runstate.RUNNING
        if self.check_arguments:
            try:
                await self.load_schema(timeout=self._connect_timeout)
            except BaseException as error:
                await self.disconnect()
                if isinstance(error, QMPClientError | IntrospectionError):
                    raise ConnectError(f"{self._where()}: reading the schema: {error}") from error
                raise

    async def load_schema(self, *, timeout: float | None = None) -> model.Schema:
        """Read the server's ``query-qmp-schema`` and, from now on, check every call's
        arguments against it before sending (an unknown command or argument, a missing
        one, a wrong JSON type: :class:`ArgumentError` with the server's wording, and
        nothing sent).  Returns the schema; :class:`IntrospectionError` if the answer is
        malformed."""
        answer = await self.execute(_SCHEMA_COMMAND, timeout=timeout)
        where = f"query-qmp-schema of {self._address}"
        schema = schema_from_introspection(answer, where)
        self.argument_check = ArgumentCheck(schema)
        return schema

    async def _establish(self, timeout: float | None) -> None:
        """Open, greet and negotiate; on failure leave nothing open."""
        address = self._address
        assert address is not None
        loop = asyncio.get_running_loop()
        # The server may greet before create_*_connection() returns (uvloop reads at
        # once): the engine, the wire and the greeting's future exist before it opens.
        self._engine = ClientConnection(limits=self._limits)
        self._handshake = loop.create_future()
        hostname = self._server_hostname if self._ssl else None
        step = "connecting"
        try:
            async with asyncio.timeout(timeout):
                if address.is_unix:
                    assert address.path is not None
                    await loop.create_unix_connection(
                        self._new_wire, address.path, ssl=self._ssl, server_hostname=hostname
                    )
                else:
                    await loop.create_connection(
                        self._new_wire,
                        address.host,
                        address.port,
                        ssl=self._ssl,
                        server_hostname=hostname,
                    )
                step = "waiting for the greeting"
                self.greeting = await self._handshake
                step = "negotiating capabilities"
                self._handshake = loop.create_future()
                assert self._transport is not None and self._engine is not None
                self._transport.write(self._engine.negotiate(enable_oob=self.enable_oob))
                await self._handshake
        except TimeoutError as error:
            self._drop_wire()
            raise ConnectError(f"{self._where()}: timed out after {timeout:g} s {step}") from error
        except (OSError, ConnectionLost, ExecuteError) as error:
            self._drop_wire()
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise ConnectError(f"{self._where()}: failed {step}: {reason}") from error
        except BaseException:
            self._drop_wire()
            raise
        finally:
            self._handshake = None
        self._lost = None
        self._connected.set()

    def _drop_wire(self, *, gently: bool = False) -> None:
        """Forget the connection; close it (``gently``: after writing what is buffered)."""
        wire, transport = self._wire, self._transport
        self._wire = self._transport = None
        self._engine = None
        if wire is not None:
            wire.client = _DETACHED
        if transport is not None:
            if gently:
                transport.close()
            else:
                transport.abort()

    def _new_wire(self) -> _Wire:
        wire = self._wire = _Wire(self)
        return wire

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the client is connected (after a reconnection, say), at most
        ``timeout`` seconds (:class:`TimeoutError`)."""
        if self._runstate is Runstate.RUNNING:
            return
        if self._runstate is not Runstate.RECONNECTING:
            raise ConnectionLost(f"{self._where()}: not connected, and not reconnecting")
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def disconnect(self) -> None:
        """Close the connection: pending calls fail with :class:`ConnectionLost`, event
        streams end, and a reconnection in progress stops.  Idempotent."""
        if self._runstate is Runstate.IDLE:
            return
        self._runstate = Runstate.DISCONNECTING
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None:
            task.cancel()
        transport = self._transport
        self._fail_pending(ConnectionLost(f"{self._where()}: disconnected"))
        self._drop_wire(gently=True)
        for stream in list(self._streams):
            stream.end()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        if transport is not None:
            await asyncio.sleep(0)  # let the transport finish closing
        self._runstate = Runstate.IDLE
        self._connected.clear()

    async def __aenter__(self) -> QMPClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    # -- commands ------------------------------------------------------------------------

    async def execute(
        self,
        name: str,
        arguments: Mapping[str, object] | None = None,
        *,
        timeout: float | _Unset | None = _UNSET,
        oob: bool = False,
    ) -> Any:
        """Run command ``name`` and return its ``return`` value.

        Raises :class:`ExecuteError` for an error reply, :class:`CommandTimeout` when no
        reply came within ``timeout`` seconds (default: the client's), and
        :class:`ConnectionLost` when the connection is or goes away.  ``oob`` sends it
        out of band (``exec-oob``), which needs ``enable_oob`` and a server offering it.
        """
        engine = self._engine
        transport = self._transport
        if engine is None or transport is None or self._runstate is not Runstate.RUNNING:
            raise self._not_connected()
        check = self.argument_check
        if check is not None and name != _SCHEMA_COMMAND:  # (load_schema's own call)
            check.check(name, arguments)
        try:
            request_id, data = engine.send_command(name, arguments, oob=oob)
        except protocol.LocalProtocolError as error:
            generic = protocol.ErrorClass.GENERIC_ERROR
            raise ExecuteError(name, generic, f"not sent: {error}") from None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        pending = self._pending
        idle = not pending
        pending[request_id] = (name, future)
        out = self._out
        if out:
            out.append(data)
        elif idle:
            # Nothing in flight: a lone call (the sequential case) goes out now, a turn of
            # the loop sooner; calls made beside it in this turn are batched behind it.
            transport.write(data)
        else:
            self._out = [data]
            loop.call_soon(self._flush)
        if timeout is _UNSET:
            timeout = self.default_timeout
        if timeout is None:
            try:
                return await future
            except asyncio.CancelledError:
                self._abandon(request_id)
                raise
        handle = loop.call_later(timeout, _expire, future, name, timeout, self._where())
        try:
            return await future
        except (asyncio.CancelledError, CommandTimeout):
            self._abandon(request_id)
            raise
        finally:
            handle.cancel()

    def _flush(self) -> None:
        # Requests made in one turn of the loop (by concurrent tasks) go out in one write.
        out, self._out = self._out, []
        transport = self._transport
        if transport is not None and out:
            transport.write(b"".join(out) if len(out) > 1 else out[0])

    def _abandon(self, request_id: int) -> None:
        if self._pending.pop(request_id, None) is not None and self._engine is not None:
            self._engine.abandon(request_id)

    def _not_connected(self) -> ConnectionLost:
        if self._lost is not None:
            return ConnectionLost(
                f"{self._where()}: not connected ({self._runstate.value}): {self._lost}"
            )
        return ConnectionLost(f"{self._where()}: not connected ({self._runstate.value})")

    # -- events --------------------------------------------------------------------------

    def events(self, *names: str, maxsize: int = DEFAULT_MAXSIZE) -> EventStream:
        """A bounded stream of the events called ``names`` (every event if none), from
        now on: see :class:`~.events.EventStream`."""
        stream = EventStream(names, maxsize, self._streams.discard)
        self._streams.add(stream)
        return stream

    async def wait_event(
        self, name: str, *, timeout: float | None = None, match: EventMatch = None
    ) -> Event:
        """The next event ``name`` (that fits ``match``: a mapping of data members, or a
        predicate) from now on, waiting at most ``timeout`` seconds (:class:`TimeoutError`)."""
        with self.events(name, maxsize=DEFAULT_MAXSIZE) as stream:
            try:
                return await stream.wait(match, timeout=timeout)
            except StopAsyncIteration:
                raise ConnectionLost(
                    f"{self._where()}: disconnected while waiting for {name}"
                ) from None

    # -- the transport's callbacks -------------------------------------------------------

    def _data_received(self, wire: _Wire, data: bytes) -> None:
        engine = self._engine
        if wire is not self._wire or engine is None:
            return
        try:
            engine.receive_data(data)
            pending = self._pending
            while True:
                event = engine.next_event()
                if type(event) is protocol.Reply:
                    entry = pending.pop(event.id, None)
                    if entry is not None and not entry[1].done():
                        entry[1].set_result(event.value)
                elif type(event) is Event:
                    self._deliver(event)
                elif type(event) is protocol.ErrorReply:
                    self._error_reply(event)
                elif event is protocol.NEED_DATA:
                    break
                elif event is protocol.CONNECTION_CLOSED:
                    self._lose(ConnectionLost(f"{self._where()}: the server closed the connection"))
                    break
                elif isinstance(event, protocol.Greeting | protocol.Negotiated):
                    self._handshake_event(event)
        except protocol.RemoteProtocolError as error:
            self._lose(ServerProtocolError(f"{self._where()}: {error}"))
        self.late_replies = engine.late_replies

    def _error_reply(self, reply: protocol.ErrorReply) -> None:
        if reply.id is None:  # the reply to qmp_capabilities
            handshake = self._handshake
            if handshake is not None and not handshake.done():
                handshake.set_exception(
                    ExecuteError("qmp_capabilities", reply.error_class, reply.desc)
                )
            return
        entry = self._pending.pop(reply.id, None)
        if entry is not None and not entry[1].done():
            entry[1].set_exception(ExecuteError(entry[0], reply.error_class, reply.desc))

    def _handshake_event(self, event: protocol.Greeting | protocol.Negotiated) -> None:
        handshake = self._handshake
        if handshake is not None and not handshake.done():
            handshake.set_result(event)

    def _deliver(self, event: Event) -> None:
        name = event.name
        for stream in self._streams:
            if stream.wants(name):
                stream.put(event)

    def _wire_made(self, wire: _Wire) -> None:
        if wire is self._wire:
            self._transport = wire.transport

    def _wire_lost(self, wire: _Wire, exc: Exception | None) -> None:
        if wire is not self._wire:
            return
        reason = f": {exc}" if exc is not None else ""
        self._lose(ConnectionLost(f"{self._where()}: the connection was lost{reason}"))

    def _lose(self, error: ConnectionLost) -> None:
        """The connection is gone: fail everyone waiting, then reconnect if asked to."""
        if self._wire is None:
            return
        self._lost = error
        self._drop_wire()
        self._fail_pending(error)
        handshake = self._handshake
        if handshake is not None and not handshake.done():
            handshake.set_exception(error)
        if self._runstate is not Runstate.RUNNING:
            return  # connecting (connect() reports it) or disconnecting
        self._connected.clear()
        if self.reconnect_policy is None:
            self._runstate = Runstate.IDLE
            for stream in list(self._streams):
                stream.end(error)
            return
        self._runstate = Runstate.RECONNECTING
        self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    def _fail_pending(self, error: ConnectionLost) -> None:
        pending, self._pending = self._pending, {}
        for _, future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def _reconnect(self) -> None:
        policy = self.reconnect_policy
        assert policy is not None
        attempt = 0
        for delay in policy.delays():
            attempt += 1
            await asyncio.sleep(delay)
            try:
                await self._establish(self._connect_timeout)
            except ConnectError as error:
                log.info("%s: reconnection attempt %d failed: %s", self._where(), attempt, error)
                continue
            self.reconnects += 1
            self._runstate = Runstate.RUNNING
            self._reconnect_task = None
            log.info("%s: reconnected after %d attempt(s)", self._where(), attempt)
            if self.check_arguments:
                try:  # the server may have been replaced by another version
                    await self.load_schema(timeout=self._connect_timeout)
                except (QMPClientError, IntrospectionError) as error:
                    log.warning("%s: kept the old schema: %s", self._where(), error)
            return
        lost = self._lost or ConnectionLost(f"{self._where()}: connection lost")
        self._lost = ConnectionLost(f"{lost}; gave up reconnecting after {attempt} attempts")
        self._runstate = Runstate.IDLE
        self._reconnect_task = None
        for stream in list(self._streams):
            stream.end(self._lost)


class _Detached:
    """Where a dropped transport's late callbacks go: nowhere."""

    def _wire_made(self, wire: _Wire) -> None:
        pass

    def _data_received(self, wire: _Wire, data: bytes) -> None:
        pass

    def _wire_lost(self, wire: _Wire, exc: Exception | None) -> None:
        pass


_DETACHED: Any = _Detached()


def _expire(future: asyncio.Future[Any], name: str, timeout: float, where: str) -> None:
    if not future.done():
        future.set_exception(CommandTimeout(name, timeout, where))


__all__ = ["DEFAULT_CONNECT_TIMEOUT", "QMPClient", "Reconnect", "Runstate", "matches"]
