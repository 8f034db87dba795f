"""The server side of one QMP connection, as a state machine with no I/O.

:class:`ServerConnection` is driven like h11: feed it bytes with :meth:`receive_data`,
take typed events with :meth:`next_event` (a :class:`CommandRequest`, or a
:class:`Signal`: ``NEED_DATA``, ``PAUSED``, ``CONNECTION_CLOSED``), and send what its
methods return.  It owns the protocol's states (greeting, capabilities negotiation,
command mode) in the explicit table :data:`TRANSITIONS`, and answers every
protocol-level fault itself, with QEMU's error classes, texts and ``id`` handling: JSON
errors, malformed requests, commands before negotiation, negotiating twice, unknown or
unavailable capabilities, ``exec-oob`` without OOB, unknown commands, OOB for a command
that does not allow it.  Those answers wait in :meth:`data_to_send` and come out in
QEMU's order: an in-band answer never overtakes the reply to an earlier in-band
request, an ``exec-oob`` answer overtakes everything.

Like QEMU, the engine takes one in-band request at a time until OOB is negotiated, and
then up to ``Limits.max_queued_requests``; past that, :meth:`next_event` returns
``PAUSED`` until a reply is sent (stop reading the socket meanwhile).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final, NamedTuple

from .errors import ErrorClass, LocalProtocolError, command_not_found, oob_not_supported
from .framing import FrameError, FrameItem, JSONStreamer
from .limits import DEFAULT_LIMITS, Limits
from .messages import (
    CommandRequest,
    EventTimestamp,
    RequestError,
    encode_error,
    encode_event,
    encode_greeting,
    encode_return,
    encode_return_encoded,
    is_oob_shaped,
    parse_request,
)
from .negotiation import (
    ALREADY_NEGOTIATED,
    EXPECTING_NEGOTIATION,
    OOB,
    QMP_CAPABILITIES,
    check_arguments,
    unavailable,
)
from .qemu_json import JSONValue


class State(enum.Enum):
    """Where a connection is in the protocol."""

    AWAITING_GREETING = "awaiting greeting"
    NEGOTIATING = "negotiating capabilities"
    COMMAND_MODE = "command mode"
    CLOSED = "closed"

    # Members are singletons: hash by identity, in C (the table is consulted per call).
    __hash__ = object.__hash__


class Trigger(enum.Enum):
    """What moves a connection: the application's calls, and what the client sends."""

    # The application:
    SEND_GREETING = "greeting()"
    RECEIVE_DATA = "receive_data(data)"
    RECEIVE_EOF = "receive_data(b'')"
    NEXT_EVENT = "next_event()"
    SEND_REPLY = "reply_*()"
    SEND_EVENT = "event()"
    # The client:
    CAPABILITIES = "qmp_capabilities"
    COMMAND = "a command other than qmp_capabilities"
    END_OF_INPUT = "end of input, every request taken"

    __hash__ = object.__hash__


class Refusal(NamedTuple):
    """The error a client gets for a request the protocol state does not allow."""

    error_class: str
    desc: str


_A, _N, _C, _X = State.AWAITING_GREETING, State.NEGOTIATING, State.COMMAND_MODE, State.CLOSED
_T = Trigger
_REFUSE_EARLY: Final = Refusal(ErrorClass.COMMAND_NOT_FOUND.value, EXPECTING_NEGOTIATION)
_REFUSE_AGAIN: Final = Refusal(ErrorClass.COMMAND_NOT_FOUND.value, ALREADY_NEGOTIATED)

#: Every allowed (state, trigger) and where it leads, with the error the client gets if
#: the request is refused.  An application call missing here raises
#: :class:`LocalProtocolError`; every client request has an entry.
TRANSITIONS: Final[Mapping[tuple[State, Trigger], tuple[State, Refusal | None]]] = {
    (_A, _T.SEND_GREETING): (_N, None),
    (_A, _T.RECEIVE_DATA): (_A, None),
    (_A, _T.RECEIVE_EOF): (_A, None),
    (_A, _T.SEND_EVENT): (_A, None),  # dropped: nobody is listening yet
    (_N, _T.RECEIVE_DATA): (_N, None),
    (_N, _T.RECEIVE_EOF): (_N, None),
    (_N, _T.NEXT_EVENT): (_N, None),
    (_N, _T.SEND_EVENT): (_N, None),  # dropped: QEMU sends events only after negotiation
    (_N, _T.CAPABILITIES): (_C, None),
    (_N, _T.COMMAND): (_N, _REFUSE_EARLY),
    (_N, _T.END_OF_INPUT): (_X, None),
    (_C, _T.RECEIVE_DATA): (_C, None),
    (_C, _T.RECEIVE_EOF): (_C, None),
    (_C, _T.NEXT_EVENT): (_C, None),
    (_C, _T.SEND_REPLY): (_C, None),
    (_C, _T.SEND_EVENT): (_C, None),
    (_C, _T.CAPABILITIES): (_C, _REFUSE_AGAIN),
    (_C, _T.COMMAND): (_C, None),
    (_C, _T.END_OF_INPUT): (_X, None),
    (_X, _T.RECEIVE_EOF): (_X, None),
    (_X, _T.NEXT_EVENT): (_X, None),
    (_X, _T.SEND_REPLY): (_X, None),  # dropped: the client is gone
    (_X, _T.SEND_EVENT): (_X, None),  # dropped
    (_X, _T.END_OF_INPUT): (_X, None),
}


_Row = dict[Trigger, tuple[State, Refusal | None]]
# The table by state, for one lookup per call.
_ROWS: Final[dict[State, _Row]] = {state: {} for state in State}
for (_state, _trigger), _entry in TRANSITIONS.items():
    _ROWS[_state][_trigger] = _entry


class Signal(enum.Enum):
    """:meth:`ServerConnection.next_event` results that are not requests."""

    NEED_DATA = "need data"
    PAUSED = "paused"
    CONNECTION_CLOSED = "connection closed"


NEED_DATA: Final = Signal.NEED_DATA
PAUSED: Final = Signal.PAUSED
CONNECTION_CLOSED: Final = Signal.CONNECTION_CLOSED


def _every_command(name: str) -> bool:
    return True


def _no_command(name: str) -> bool:
    return False


class ServerConnection:
    """One QMP connection, server side, as QEMU 7.2's monitor runs it.

    ``version`` is the greeting's ``version`` member (``query-version``'s result).
    ``command_exists`` and ``allows_oob`` tell the engine about commands (other than
    ``qmp_capabilities``, which it runs itself); by default every command exists and
    none may run out of band.  ``offer_oob`` offers the ``oob`` capability, as QEMU
    does on sockets.
    """

    __slots__ = (
        "_allows_oob",
        "_capabilities",
        "_command_exists",
        "_end_of_input",
        "_frames",
        "_in_band",
        "_in_band_limit",
        "_limits",
        "_oob_enabled",
        "_oob_pending",
        "_ready",
        "_row",
        "_state",
        "_streamer",
        "_version",
    )

    def __init__(
        self,
        version: JSONValue,
        *,
        command_exists: Callable[[str], bool] = _every_command,
        allows_oob: Callable[[str], bool] = _no_command,
        offer_oob: bool = True,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._version = version
        self._command_exists = command_exists
        self._allows_oob = allows_oob
        self._capabilities: tuple[str, ...] = (OOB,) if offer_oob else ()
        self._limits = limits
        self._state = State.AWAITING_GREETING
        self._row = _ROWS[self._state]
        self._streamer = JSONStreamer(limits)
        self._frames: deque[FrameItem] = deque()
        self._end_of_input = False
        self._oob_enabled = False
        # In-band requests awaiting their reply, in arrival order; an entry becomes the
        # reply's bytes when it is answered out of order (or by the engine itself).
        self._in_band: deque[CommandRequest | bytes] = deque()
        self._in_band_limit = 1
        self._oob_pending: set[CommandRequest] = set()
        self._ready: list[bytes] = []

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def negotiated(self) -> bool:
        """True once ``qmp_capabilities`` succeeded (and so events are sent)."""
        return self._state is State.COMMAND_MODE

    @property
    def oob_enabled(self) -> bool:
        return self._oob_enabled

    @property
    def capabilities(self) -> tuple[str, ...]:
        """The capabilities the greeting offers."""
        return self._capabilities

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def in_band_pending(self) -> int:
        """In-band requests (and answers queued behind them) not yet sent."""
        return len(self._in_band)

    def _apply(self, trigger: Trigger) -> Refusal | None:
        entry = self._row.get(trigger)
        if entry is None:
            raise LocalProtocolError(
                f"{trigger.value} is not allowed in state '{self._state.value}'"
            )
        state = entry[0]
        if state is not self._state:
            self._state = state
            self._row = _ROWS[state]
        return entry[1]

    # -- input -------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Take bytes from the client; ``b""`` means the client closed its side."""
        if not data:
            self._apply(Trigger.RECEIVE_EOF)
            self._end_of_input = True
            return
        if self._end_of_input:
            raise LocalProtocolError("receive_data(data) after end of input")
        self._apply(Trigger.RECEIVE_DATA)
        self._frames.extend(self._streamer.feed(data if type(data) is bytes else bytes(data)))

    def next_event(self) -> CommandRequest | Signal:
        """The next request for the application, or why there is none.

        ``NEED_DATA``: feed more bytes.  ``PAUSED``: reply to pending in-band requests
        first (and stop reading meanwhile).  ``CONNECTION_CLOSED``: end of input was
        received and every request before it has been taken.
        """
        self._apply(Trigger.NEXT_EVENT)
        frames = self._frames
        while True:
            if len(self._in_band) >= self._in_band_limit:
                return PAUSED
            if not frames:
                if self._end_of_input:
                    self._apply(Trigger.END_OF_INPUT)
                    return CONNECTION_CLOSED
                return NEED_DATA
            request = self._accept(frames.popleft())
            if request is not None:
                return request

    def _accept(self, item: FrameItem) -> CommandRequest | None:
        if isinstance(item, FrameError):
            self._answer_in_band(encode_error(ErrorClass.GENERIC_ERROR.value, item.desc))
            return None
        request = parse_request(item, self._oob_enabled)
        if type(request) is RequestError:
            answer = encode_error(request.error_class, request.desc, request.id, request.has_id)
            if is_oob_shaped(item):
                self._ready.append(answer)
            else:
                self._answer_in_band(answer)
            return None
        assert type(request) is CommandRequest
        name = request.name
        if name == QMP_CAPABILITIES:
            self._negotiate(request)
            return None
        refusal = self._apply(Trigger.COMMAND)
        if refusal is None:
            if not self._command_exists(name):
                refusal = Refusal(ErrorClass.COMMAND_NOT_FOUND, command_not_found(name))
            elif request.oob and not self._allows_oob(name):
                refusal = Refusal(ErrorClass.GENERIC_ERROR, oob_not_supported(name))
            elif request.oob:
                self._oob_pending.add(request)
                return request
            else:
                self._in_band.append(request)
                return request
        self._refuse(request, refusal)
        return None

    def _negotiate(self, request: CommandRequest) -> None:
        if request.oob:
            not_oob = oob_not_supported(QMP_CAPABILITIES)
            self._refuse(request, Refusal(ErrorClass.GENERIC_ERROR, not_oob))
            return
        requested = check_arguments(request.arguments)
        if isinstance(requested, str):
            self._refuse(request, Refusal(ErrorClass.GENERIC_ERROR.value, requested))
            return
        refusal = self._row[Trigger.CAPABILITIES][1]
        if refusal is None:
            desc = unavailable(requested, self._capabilities)
            if desc is not None:
                refusal = Refusal(ErrorClass.GENERIC_ERROR.value, desc)
        if refusal is not None:
            self._refuse(request, refusal)
            return
        self._apply(Trigger.CAPABILITIES)
        self._oob_enabled = OOB in requested
        self._in_band_limit = self._limits.max_queued_requests if self._oob_enabled else 1
        self._answer_in_band(encode_return({}, request.id, request.has_id))

    def _refuse(self, request: CommandRequest, refusal: Refusal) -> None:
        answer = encode_error(refusal.error_class, refusal.desc, request.id, request.has_id)
        if request.oob:
            self._ready.append(answer)
        else:
            self._answer_in_band(answer)

    def _answer_in_band(self, answer: bytes) -> None:
        if self._in_band:
            self._in_band.append(answer)
        else:
            self._ready.append(answer)

    # -- output ------------------------------------------------------------------------

    def greeting(self) -> bytes:
        """The greeting, to send as soon as the client connects."""
        self._apply(Trigger.SEND_GREETING)
        return encode_greeting(self._version, self._capabilities)

    def data_to_send(self) -> bytes:
        """The engine's own answers that are due, in order (``b""`` if none)."""
        ready = self._ready
        if not ready:
            return b""
        data = b"".join(ready)
        ready.clear()
        return data

    def reply_return(self, request: CommandRequest, value: JSONValue) -> bytes:
        """Bytes to send for ``request`` succeeding with ``value`` (``{}`` if the
        command returns nothing).  They include any engine answers now due after it."""
        self._apply(Trigger.SEND_REPLY)
        return self._complete(request, encode_return(value, request.id, request.has_id))

    def reply_encoded_return(self, request: CommandRequest, encoded: bytes) -> bytes:
        """Like :meth:`reply_return` with the value already encoded as JSON text."""
        self._apply(Trigger.SEND_REPLY)
        return self._complete(request, encode_return_encoded(encoded, request.id, request.has_id))

    def reply_error(
        self, request: CommandRequest, error_class: str | ErrorClass, desc: str
    ) -> bytes:
        """Bytes to send for ``request`` failing (``error_class`` is one of QMP's)."""
        self._apply(Trigger.SEND_REPLY)
        return self._complete(
            request, encode_error(str(error_class), desc, request.id, request.has_id)
        )

    def event(
        self,
        name: str,
        data: Mapping[str, JSONValue] | None,
        timestamp: EventTimestamp | float,
    ) -> bytes:
        """Bytes to send for event ``name`` (``data`` None: no ``data`` member), or
        ``b""`` before negotiation completes (QEMU sends events only after it).
        ``timestamp`` is seconds since the epoch, or an :class:`EventTimestamp`."""
        self._apply(Trigger.SEND_EVENT)
        if self._state is not State.COMMAND_MODE:
            return b""
        if not isinstance(timestamp, EventTimestamp):
            timestamp = EventTimestamp.from_seconds(timestamp)
        message = encode_event(name, data, timestamp)
        if self._ready:
            return self.data_to_send() + message
        return message

    def _complete(self, request: CommandRequest, reply: bytes) -> bytes:
        closed = self._state is State.CLOSED
        if request.oob:
            if request not in self._oob_pending:
                raise LocalProtocolError(f"{request!r} is not awaiting a reply")
            self._oob_pending.discard(request)
        else:
            in_band = self._in_band
            if in_band and in_band[0] is request:
                in_band.popleft()
                if not in_band and not self._ready and not closed:
                    return reply
                self._ready.append(reply)
                while in_band:
                    answer = in_band[0]
                    if not isinstance(answer, bytes):
                        break
                    self._ready.append(answer)
                    in_band.popleft()
            else:
                for index, pending in enumerate(in_band):
                    if pending is request:
                        in_band[index] = reply  # sent once the requests before it are
                        break
                else:
                    raise LocalProtocolError(f"{request!r} is not awaiting a reply")
                if not self._ready:
                    return b""
            if closed:
                self._ready.clear()
                return b""
            return self.data_to_send()
        if closed:
            self._ready.clear()
            return b""
        if self._ready:
            return self.data_to_send() + reply
        return reply
