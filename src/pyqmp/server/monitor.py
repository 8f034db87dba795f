"""One QMP monitor: a client connection driven by the protocol engine.

An ``asyncio.Protocol`` (not streams: a request's path from bytes in to bytes out is
a few function calls, no task switches).  Bytes go to the sans-IO engine
(:mod:`pyqmp.protocol`); each complete request is dispatched at once, in order, and
the reply is written.  Commands never wait (that is the point of the machine), so
in-band commands need no queue of their own: when the client stops reading and the
transport's buffer passes its high-water mark, the monitor stops answering (the
requests already read wait in the engine) and stops reading (QEMU stops reading when
its queue is full) — nothing the client sends, not even one read of small requests
with large replies, can make the server buffer more than about the mark.  A read goes
to the engine ``FEED_CHUNK`` bytes at a time, as it runs out of requests (the rest stay
bytes, not parsed requests), and a monitor whose client left replies past the mark trims
the C heap when it goes (:mod:`.heap`), so that their memory goes back to the system.

Events are different, since the client does not ask for them: they go through the
engine, which alone decides whether the client may be sent one now, and past
``EVENT_BACKLOG_LIMIT`` bytes unread a monitor's events are dropped, and counted
(``dropped_events``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

from .. import protocol
from . import heap
from .errors import GENERIC_ERROR, CommandError

log = logging.getLogger(__name__)

# Unread bytes past which a monitor's events are dropped (its replies never are).
EVENT_BACKLOG_LIMIT = 4 << 20
# The transport stops taking requests past this many unread reply bytes.
WRITE_HIGH_WATER = 1 << 20
# Bytes read but not yet parsed go to the engine this many at a time, as it runs out of
# requests: a read of thousands of pipelined requests stays one bytes object until the
# client's replies make room, rather than thousands of parsed requests held in memory.
FEED_CHUNK = 8 << 10


class Commands(Protocol):
    """What a monitor runs requests through: a dispatcher, or a policy's view of one."""

    def __contains__(self, name: str) -> bool: ...

    def allows_oob(self, name: str) -> bool: ...

    def call(self, name: str, arguments: dict[str, Any] | None) -> bytes: ...


class Monitor(asyncio.Protocol):
    """A QMP client connection.

    ``on_connected`` admits the connection (it returns False to refuse it: the transport
    is closed before the greeting); ``on_negotiated`` and ``on_closed`` follow its life.
    """

    def __init__(
        self,
        dispatcher: Commands,
        version: dict[str, Any],
        on_negotiated: Callable[[Monitor], None],
        on_closed: Callable[[Monitor], None],
        on_connected: Callable[[Monitor], bool] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.engine = protocol.ServerConnection(
            version,
            command_exists=dispatcher.__contains__,
            allows_oob=dispatcher.allows_oob,
        )
        self._on_negotiated = on_negotiated
        self._on_closed = on_closed
        self._on_connected = on_connected
        self.identity = ""  # who is at the other end, for the log (set on admission)
        self.transport: asyncio.Transport | None = None
        self.negotiated = False
        self.dropped_events = 0
        self._reading_paused = False
        self._writing_paused = False
        self._held_requests = False  # received, not yet answered: the client is behind
        self._out: list[bytes] | None = None
        self._unfed = b""  # read, not yet given to the engine: from _unfed_at on
        self._unfed_at = 0
        self._backlogged = False  # the client once left a high-water mark of replies unread

    # -- asyncio callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not asyncio.Transport subclasses, but behave as one)
        self.transport = transport = cast(asyncio.Transport, transport)
        if self._on_connected is not None and not self._on_connected(self):
            transport.abort()  # refused: no greeting, and no lingering buffered bytes
            return
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        transport.write(self.engine.greeting())

    def data_received(self, data: bytes) -> None:
        if self._unfed_at < len(self._unfed):  # (reading is paused meanwhile: not expected)
            data = self._unfed[self._unfed_at :] + data
        self._unfed = data
        self._unfed_at = 0
        self._feed()
        self._answer()

    def _feed(self) -> bool:
        """Give the engine the next chunk of the bytes read; False if there is none."""
        unfed = self._unfed
        start = self._unfed_at
        if start >= len(unfed):
            return False
        if start == 0 and len(unfed) <= FEED_CHUNK:
            chunk = unfed
        else:
            chunk = unfed[start : start + FEED_CHUNK]
        self._unfed_at = start + len(chunk)
        if self._unfed_at >= len(unfed):
            self._unfed = b""  # all given: the read's buffer is freed
            self._unfed_at = 0
        self.engine.receive_data(chunk)
        return True

    def _answer(self) -> None:
        """Answer the requests received, until they are done or the replies waiting for the
        client pass the high-water mark: the rest wait in the engine (at most one read's
        worth) until the client has read, so that one read of small requests with large
        replies cannot make the server buffer without bound."""
        engine = self.engine
        transport = self.transport
        room = WRITE_HIGH_WATER - (transport.get_write_buffer_size() if transport else 0)
        # Replies are gathered and written once per read (one syscall for a pipelined
        # burst); events this monitor's own commands raise join the same list, so that
        # they precede the reply, as QEMU orders them.
        out: list[bytes] = []
        size = 0
        self._out = out
        self._held_requests = False
        try:
            while True:
                if size > room:
                    self._held_requests = True  # answered on resume_writing
                    self._backlogged = True
                    break
                event = engine.next_event()
                pending = engine.data_to_send()
                if pending:
                    out.append(pending)
                    size += len(pending)
                if not self.negotiated and engine.negotiated:
                    self.negotiated = True
                    self._on_negotiated(self)
                if not isinstance(event, protocol.CommandRequest):
                    if event is protocol.NEED_DATA and self._feed():
                        continue  # the next chunk of what was read
                    break  # NEED_DATA (or PAUSED: never, every request is answered at once)
                reply = self._run(event)
                out.append(reply)
                size += len(reply)
        finally:
            self._out = None
        if out and transport is not None:
            transport.write(b"".join(out) if len(out) > 1 else out[0])
        if self._held_requests and not self._writing_paused and transport is not None:
            # The socket took it all without a pause (so no resume_writing will come):
            # answer the rest on the next turn of the loop, reading nothing new meanwhile.
            if not self._reading_paused:
                self._reading_paused = True
                transport.pause_reading()
            asyncio.get_running_loop().call_soon(self._answer_held)

    def _answer_held(self) -> None:
        if self.transport is None or self._writing_paused or not self._held_requests:
            return
        self._answer()
        if not self._held_requests and self._reading_paused and not self._writing_paused:
            self._reading_paused = False
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._unfed = b""
        self._unfed_at = 0
        if self._backlogged:
            # Its replies, up to the high-water mark, were freed into the C heap, where
            # they stay, in pieces, unless it is trimmed.
            heap.release_soon()
        self._on_closed(self)

    def pause_writing(self) -> None:
        # The client is not reading its replies: stop reading its requests.
        self._writing_paused = True
        self._backlogged = True
        if self.transport is not None and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._held_requests:
            self._answer()  # the requests held back first, in order
            if self._held_requests or self._writing_paused:
                return  # still over the mark: reading resumes on a later resume_writing
        if self.transport is not None and self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()

    # -- requests and events -----------------------------------------------------------

    def _run(self, request: protocol.CommandRequest) -> bytes:
        try:
            result = self.dispatcher.call(request.name, request.arguments)
        except CommandError as error:
            return self.engine.reply_error(request, error.error_class, error.desc)
        except Exception:  # a bug in a handler must not take the monitor down
            log.exception("command %s failed", request.name)
            return self.engine.reply_error(
                request, GENERIC_ERROR, f"internal error in command {request.name}"
            )
        return self.engine.reply_encoded_return(request, result)

    def send_event(self, message: bytes) -> None:
        data = self.engine.encoded_event(message)
        if not data:
            return  # the protocol sends this client nothing now
        if self._out is not None:  # raised by a command of ours: goes before its reply
            self._out.append(data)
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > EVENT_BACKLOG_LIMIT:
            self.dropped_events += 1
            return
        transport.write(data)
