"""The server side of one QMP connection, as a state machine with no I/O.

:class:`ServerConnection` is driven like h11: feed it bytes with :meth:`receive_data`,
take typed events with :meth:`next_event` (a :class:`CommandRequest`, or a
:class:`Signal`: ``NEED_DATA``, ``PAUSED``, ``CONNECTION_CLOSED``), and send what its
methods return — replies, and events too (:meth:`event`, :meth:`encoded_event`), so
that the engine alone decides what a client may be sent.  It owns the protocol's states
(greeting, capabilities negotiation, command mode, closed) in one table,
:data:`TRANSITIONS`, whose head states the rules, and answers every protocol-level fault
itself, with QEMU's error classes, texts and ``id`` handling: JSON errors, malformed
requests, commands before negotiation, negotiating twice, unknown or unavailable
capabilities, ``exec-oob`` without OOB, unknown commands, OOB for a command that does
not allow it.  Those answers wait in :meth:`data_to_send` and come out in
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
    NOT_AVAILABLE,
    OOB,
    QMP_CAPABILITIES,
    check_arguments,
    missing_capabilities,
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
    SEND_EVENT = "event() or encoded_event()"
    # The client:
    CAPABILITIES = "qmp_capabilities"
    UNOFFERED_CAPABILITIES = "qmp_capabilities asking for a capability not on offer"
    COMMAND = "a command other than qmp_capabilities"
    END_OF_INPUT = "end of input, every request taken"

    __hash__ = object.__hash__


class Outcome(enum.Enum):
    """What a (state, trigger) the table allows does, when it is not a refusal."""

    PROCEED = "proceeds"  # the call does its work; the request is taken
    DROP = "dropped"  # output nobody will read: the call returns b""


class Refusal(NamedTuple):
    """The error a client gets for a request the protocol state does not allow.

    A ``desc`` with ``{}`` is completed with what the request asked for (the
    capabilities that are not on offer).
    """

    error_class: str
    desc: str

    def describe(self, detail: str) -> str:
        return self.desc.format(detail) if "{}" in self.desc else self.desc


class Transition(NamedTuple):
    """One row of the table: the state a trigger leads to, and what becomes of it."""

    next_state: State
    outcome: Outcome | Refusal


PROCEED: Final = Outcome.PROCEED
DROP: Final = Outcome.DROP
REFUSE_EARLY: Final = Refusal(ErrorClass.COMMAND_NOT_FOUND, EXPECTING_NEGOTIATION)
REFUSE_AGAIN: Final = Refusal(ErrorClass.COMMAND_NOT_FOUND, ALREADY_NEGOTIATED)
REFUSE_UNOFFERED: Final = Refusal(ErrorClass.GENERIC_ERROR, NOT_AVAILABLE)

AWAITING_GREETING: Final = State.AWAITING_GREETING
NEGOTIATING: Final = State.NEGOTIATING
COMMAND_MODE: Final = State.COMMAND_MODE
CLOSED: Final = State.CLOSED

#: The whole protocol state machine: every allowed (state, trigger), where it leads and
#: what becomes of it.  The rules, from QEMU 7.2's monitor (``monitor/qmp.c``,
#: ``qapi/qmp-dispatch.c``, ``monitor/qmp-cmds-control.c``):
#:
#: - An application call missing from the table is a bug in the application: it raises
#:   :class:`LocalProtocolError` and changes nothing.  Every client request has a row in
#:   every state where the client can send one.
#: - Only well-formed requests are triggers.  What is wrong with a request whatever the
#:   state — bad JSON, a malformed request, ``exec-oob`` without OOB, ``qmp_capabilities``
#:   out of band or with bad arguments — is answered before the table is consulted, in
#:   every state, as QEMU's parser and dispatcher answer it.
#: - ``qmp_capabilities`` is one trigger or the other depending on whether what it asks
#:   for is on offer; the table says which refusal wins (in command mode, "already
#:   complete" comes first, as QEMU checks the mode before the capabilities).
#: - A ``COMMAND`` the table takes is then looked up in the application's commands:
#:   unknown, it is refused with ``CommandNotFound``; ``exec-oob`` of a command that does
#:   not allow OOB, with ``GenericError``.  Before negotiation no lookup happens.
#: - Events and replies nobody will read are dropped: events until negotiation completes
#:   (QEMU sends none before), and everything once the connection is closed.
#: - End of input is a fact about the input, not a state: after ``receive_data(b"")``
#:   more data is refused, and the connection stays in its state until every request
#:   before the end has been taken (``END_OF_INPUT``).
#: - Flow control is not a state either: past ``Limits.max_queued_requests`` in-band
#:   requests awaiting replies (one without OOB), :meth:`ServerConnection.next_event`
#:   answers ``PAUSED``.
# fmt: off
_ROWS_AS_WRITTEN: Final = (
    # in state          trigger                         leads to           outcome
    (AWAITING_GREETING, Trigger.SEND_GREETING,          NEGOTIATING,       PROCEED),
    (AWAITING_GREETING, Trigger.RECEIVE_DATA,           AWAITING_GREETING, PROCEED),
    (AWAITING_GREETING, Trigger.RECEIVE_EOF,            AWAITING_GREETING, PROCEED),
    (AWAITING_GREETING, Trigger.SEND_EVENT,             AWAITING_GREETING, DROP),

    (NEGOTIATING,       Trigger.RECEIVE_DATA,           NEGOTIATING,       PROCEED),
    (NEGOTIATING,       Trigger.RECEIVE_EOF,            NEGOTIATING,       PROCEED),
    (NEGOTIATING,       Trigger.NEXT_EVENT,             NEGOTIATING,       PROCEED),
    (NEGOTIATING,       Trigger.SEND_EVENT,             NEGOTIATING,       DROP),
    (NEGOTIATING,       Trigger.CAPABILITIES,           COMMAND_MODE,      PROCEED),
    (NEGOTIATING,       Trigger.UNOFFERED_CAPABILITIES, NEGOTIATING,       REFUSE_UNOFFERED),
    (NEGOTIATING,       Trigger.COMMAND,                NEGOTIATING,       REFUSE_EARLY),
    (NEGOTIATING,       Trigger.END_OF_INPUT,           CLOSED,            PROCEED),

    (COMMAND_MODE,      Trigger.RECEIVE_DATA,           COMMAND_MODE,      PROCEED),
    (COMMAND_MODE,      Trigger.RECEIVE_EOF,            COMMAND_MODE,      PROCEED),
    (COMMAND_MODE,      Trigger.NEXT_EVENT,             COMMAND_MODE,      PROCEED),
    (COMMAND_MODE,      Trigger.SEND_REPLY,             COMMAND_MODE,      PROCEED),
    (COMMAND_MODE,      Trigger.SEND_EVENT,             COMMAND_MODE,      PROCEED),
    (COMMAND_MODE,      Trigger.CAPABILITIES,           COMMAND_MODE,      REFUSE_AGAIN),
    (COMMAND_MODE,      Trigger.UNOFFERED_CAPABILITIES, COMMAND_MODE,      REFUSE_AGAIN),
    (COMMAND_MODE,      Trigger.COMMAND,                COMMAND_MODE,      PROCEED),
    (COMMAND_MODE,      Trigger.END_OF_INPUT,           CLOSED,            PROCEED),

    (CLOSED,            Trigger.RECEIVE_EOF,            CLOSED,            PROCEED),
    (CLOSED,            Trigger.NEXT_EVENT,             CLOSED,            PROCEED),
    (CLOSED,            Trigger.SEND_REPLY,             CLOSED,            DROP),
    (CLOSED,            Trigger.SEND_EVENT,             CLOSED,            DROP),
    (CLOSED,            Trigger.END_OF_INPUT,           CLOSED,            PROCEED),
)
# fmt: on
TRANSITIONS: Final[Mapping[tuple[State, Trigger], Transition]] = {
    (state, trigger): Transition(next_state, outcome)
    for state, trigger, next_state, outcome in _ROWS_AS_WRITTEN
}


_Row = dict[Trigger, Transition]
# The table by state, for one lookup per call.
_ROWS: Final[dict[State, _Row]] = {state: {} for state in State}
for (_state, _trigger), _transition in TRANSITIONS.items():
    _ROWS[_state][_trigger] = _transition


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

    def _apply(self, trigger: Trigger) -> Outcome | Refusal:
        """Move by the table; what becomes of the trigger."""
        transition = self._row.get(trigger)
        if transition is None:
            raise LocalProtocolError(
                f"{trigger.value} is not allowed in state '{self._state.value}'"
            )
        state = transition[0]
        if state is not self._state:
            self._state = state
            self._row = _ROWS[state]
        return transition[1]

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
        outcome = self._apply(Trigger.COMMAND)
        if outcome is PROCEED:
            if not self._command_exists(name):
                outcome = Refusal(ErrorClass.COMMAND_NOT_FOUND, command_not_found(name))
            elif request.oob and not self._allows_oob(name):
                outcome = Refusal(ErrorClass.GENERIC_ERROR, oob_not_supported(name))
            elif request.oob:
                self._oob_pending.add(request)
                return request
            else:
                self._in_band.append(request)
                return request
        assert isinstance(outcome, Refusal)
        self._refuse(request, outcome)
        return None

    def _negotiate(self, request: CommandRequest) -> None:
        if request.oob:
            not_oob = oob_not_supported(QMP_CAPABILITIES)
            self._refuse(request, Refusal(ErrorClass.GENERIC_ERROR, not_oob))
            return
        requested = check_arguments(request.arguments)
        if isinstance(requested, str):
            self._refuse(request, Refusal(ErrorClass.GENERIC_ERROR, requested))
            return
        missing = missing_capabilities(requested, self._capabilities)
        outcome = self._apply(Trigger.UNOFFERED_CAPABILITIES if missing else Trigger.CAPABILITIES)
        if isinstance(outcome, Refusal):
            self._refuse(request, outcome, missing)
            return
        self._oob_enabled = OOB in requested
        self._in_band_limit = self._limits.max_queued_requests if self._oob_enabled else 1
        self._answer_in_band(encode_return({}, request.id, request.has_id))

    def _refuse(self, request: CommandRequest, refusal: Refusal, detail: str = "") -> None:
        desc = refusal.describe(detail)
        answer = encode_error(refusal.error_class, desc, request.id, request.has_id)
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
        dropped = self._apply(Trigger.SEND_REPLY) is DROP
        reply = encode_return(value, request.id, request.has_id)
        return self._complete(request, reply, dropped)

    def reply_encoded_return(self, request: CommandRequest, encoded: bytes) -> bytes:
        """Like :meth:`reply_return` with the value already encoded as JSON text."""
        dropped = self._apply(Trigger.SEND_REPLY) is DROP
        reply = encode_return_encoded(encoded, request.id, request.has_id)
        return self._complete(request, reply, dropped)

    def reply_error(
        self, request: CommandRequest, error_class: str | ErrorClass, desc: str
    ) -> bytes:
        """Bytes to send for ``request`` failing (``error_class`` is one of QMP's)."""
        dropped = self._apply(Trigger.SEND_REPLY) is DROP
        reply = encode_error(str(error_class), desc, request.id, request.has_id)
        return self._complete(request, reply, dropped)

    def event(
        self,
        name: str,
        data: Mapping[str, JSONValue] | None,
        timestamp: EventTimestamp | float,
    ) -> bytes:
        """Bytes to send for event ``name`` (``data`` None: no ``data`` member), or
        ``b""`` before negotiation completes (QEMU sends events only after it).
        ``timestamp`` is seconds since the epoch, or an :class:`EventTimestamp`."""
        if self._apply(Trigger.SEND_EVENT) is DROP:
            return b""
        if not isinstance(timestamp, EventTimestamp):
            timestamp = EventTimestamp.from_seconds(timestamp)
        return self._after_ready(encode_event(name, data, timestamp))

    def encoded_event(self, message: bytes) -> bytes:
        """Like :meth:`event` for a message already encoded (by
        :func:`~pyqmp.protocol.messages.encode_event`, once for every connection)."""
        if self._apply(Trigger.SEND_EVENT) is DROP:
            return b""
        return self._after_ready(message)

    def _after_ready(self, message: bytes) -> bytes:
        # The engine's answers already due were decided first: they go first.
        if self._ready:
            return self.data_to_send() + message
        return message

    def _complete(self, request: CommandRequest, reply: bytes, dropped: bool) -> bytes:
        # The request leaves the books either way; when the table drops the reply (the
        # client is gone), what waited behind it goes too.
        if request.oob:
            if request not in self._oob_pending:
                raise LocalProtocolError(f"{request!r} is not awaiting a reply")
            self._oob_pending.discard(request)
        else:
            in_band = self._in_band
            if in_band and in_band[0] is request:
                in_band.popleft()
                if not in_band and not self._ready and not dropped:
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
            if dropped:
                self._ready.clear()
                return b""
            return self.data_to_send()
        if dropped:
            self._ready.clear()
            return b""
        return self._after_ready(reply)
