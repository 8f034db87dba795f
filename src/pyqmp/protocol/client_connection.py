"""The client side of one QMP connection, as a state machine with no I/O.

:class:`ClientConnection` is driven like h11, from the other end of the wire than
:class:`~pyqmp.protocol.connection.ServerConnection`: feed it the server's bytes with
:meth:`receive_data`, take what they mean with :meth:`next_event` (a :class:`Greeting`,
:class:`Negotiated`, :class:`Reply`, :class:`ErrorReply` or :class:`Event`, or the signal
``NEED_DATA`` / ``CONNECTION_CLOSED``), and send the bytes that :meth:`negotiate` and
:meth:`send_command` return.  Its one rule: every request carries an id the engine chose,
and every reply is matched to its request by that id alone, never by order — so a request
the application stopped waiting for (:meth:`abandon`) still owns its id, its late reply is
recognised and dropped, and the next request gets its own reply.

The server's bytes are untrusted: they are framed by the protocol part's
:class:`~pyqmp.protocol.framing.JSONStreamer` within its :class:`~pyqmp.protocol.limits.Limits`,
and whatever breaks the protocol (bytes that are not JSON, a reply to no request, a
message out of turn) raises :class:`~pyqmp.protocol.errors.RemoteProtocolError` saying
what was expected, after which the connection is closed.  What a newer server may add
and an older client can skip is skipped and counted (:attr:`ignored_messages`): unknown
members, messages of an unknown kind.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from typing import Final

import orjson

from .connection import CONNECTION_CLOSED, NEED_DATA, Signal
from .errors import EncodeError, ErrorClass, LocalProtocolError, RemoteProtocolError
from .framing import FrameError, FrameItem, JSONStreamer
from .limits import DEFAULT_LIMITS, Limits
from .messages import EventTimestamp
from .negotiation import OOB, QMP_CAPABILITIES
from .qemu_json import JSONValue


class ClientState(enum.Enum):
    """Where a client connection is in the protocol."""

    AWAITING_GREETING = "awaiting greeting"
    GREETED = "greeted, capabilities not yet asked for"
    NEGOTIATING = "negotiating capabilities"
    COMMAND_MODE = "command mode"
    CLOSED = "closed"

    # Members are singletons: hash by identity, in C (the table is consulted per message).
    __hash__ = object.__hash__


class ClientTrigger(enum.Enum):
    """What moves a client connection: the application's calls, and what the server sends."""

    # The application:
    RECEIVE_DATA = "receive_data(data)"
    RECEIVE_EOF = "receive_data(b'')"
    NEXT_EVENT = "next_event()"
    NEGOTIATE = "negotiate()"
    SEND_COMMAND = "send_command()"
    ABANDON = "abandon()"
    # The server:
    GREETING = "a greeting"
    REPLY = "a reply"
    EVENT = "an event"
    END_OF_INPUT = "end of input, every message taken"

    __hash__ = object.__hash__


_State = ClientState
_Trigger = ClientTrigger
_IN_COMMAND_MODE: Final = "in command mode (a greeting and negotiation come first)"

#: Every (state, trigger) and where it leads.  An application call missing here raises
#: :class:`LocalProtocolError`; a server message missing here raises
#: :class:`RemoteProtocolError` naming what was expected (the right column's text for
#: the rows that say it), and closes the connection.
CLIENT_TRANSITIONS: Final[Mapping[tuple[ClientState, ClientTrigger], ClientState]] = {
    # Before the greeting, the application can only feed bytes and read.
    (_State.AWAITING_GREETING, _Trigger.RECEIVE_DATA): _State.AWAITING_GREETING,
    (_State.AWAITING_GREETING, _Trigger.RECEIVE_EOF): _State.AWAITING_GREETING,
    (_State.AWAITING_GREETING, _Trigger.NEXT_EVENT): _State.AWAITING_GREETING,
    (_State.AWAITING_GREETING, _Trigger.GREETING): _State.GREETED,
    (_State.AWAITING_GREETING, _Trigger.END_OF_INPUT): _State.CLOSED,
    # Greeted: the application asks for capabilities; a server may already send events.
    (_State.GREETED, _Trigger.RECEIVE_DATA): _State.GREETED,
    (_State.GREETED, _Trigger.RECEIVE_EOF): _State.GREETED,
    (_State.GREETED, _Trigger.NEXT_EVENT): _State.GREETED,
    (_State.GREETED, _Trigger.NEGOTIATE): _State.NEGOTIATING,
    (_State.GREETED, _Trigger.EVENT): _State.GREETED,
    (_State.GREETED, _Trigger.END_OF_INPUT): _State.CLOSED,
    # Negotiating: the one reply expected is the one to qmp_capabilities.
    (_State.NEGOTIATING, _Trigger.RECEIVE_DATA): _State.NEGOTIATING,
    (_State.NEGOTIATING, _Trigger.RECEIVE_EOF): _State.NEGOTIATING,
    (_State.NEGOTIATING, _Trigger.NEXT_EVENT): _State.NEGOTIATING,
    (_State.NEGOTIATING, _Trigger.REPLY): _State.COMMAND_MODE,  # or GREETED if refused
    (_State.NEGOTIATING, _Trigger.EVENT): _State.NEGOTIATING,
    (_State.NEGOTIATING, _Trigger.END_OF_INPUT): _State.CLOSED,
    # Command mode: requests out, replies matched by id, events any time.
    (_State.COMMAND_MODE, _Trigger.RECEIVE_DATA): _State.COMMAND_MODE,
    (_State.COMMAND_MODE, _Trigger.RECEIVE_EOF): _State.COMMAND_MODE,
    (_State.COMMAND_MODE, _Trigger.NEXT_EVENT): _State.COMMAND_MODE,
    (_State.COMMAND_MODE, _Trigger.SEND_COMMAND): _State.COMMAND_MODE,
    (_State.COMMAND_MODE, _Trigger.ABANDON): _State.COMMAND_MODE,
    (_State.COMMAND_MODE, _Trigger.REPLY): _State.COMMAND_MODE,
    (_State.COMMAND_MODE, _Trigger.EVENT): _State.COMMAND_MODE,
    (_State.COMMAND_MODE, _Trigger.END_OF_INPUT): _State.CLOSED,
    # Closed: reading says so; abandoning a call whose reply never came is harmless.
    (_State.CLOSED, _Trigger.NEXT_EVENT): _State.CLOSED,
    (_State.CLOSED, _Trigger.RECEIVE_EOF): _State.CLOSED,
    (_State.CLOSED, _Trigger.ABANDON): _State.CLOSED,
    (_State.CLOSED, _Trigger.END_OF_INPUT): _State.CLOSED,
}

#: What the server must send instead, for its messages a state does not take.
_EXPECTED: Final[Mapping[ClientState, str]] = {
    _State.AWAITING_GREETING: 'a greeting {"QMP": ...} first',
    _State.GREETED: "nothing but events before the client negotiates",
    _State.NEGOTIATING: "the reply to qmp_capabilities",
    _State.COMMAND_MODE: "replies and events " + _IN_COMMAND_MODE,
    _State.CLOSED: "nothing after the connection closed",
}

_ROWS: Final[dict[ClientState, dict[ClientTrigger, ClientState]]] = {s: {} for s in _State}
for (_state, _trigger), _target in CLIENT_TRANSITIONS.items():
    _ROWS[_state][_trigger] = _target


class Greeting:
    """The server's greeting: ``version`` as ``query-version`` answers it, and the
    capabilities it offers (unknown ones are kept: the client may simply not ask)."""

    __slots__ = ("capabilities", "version")

    def __init__(self, version: JSONValue, capabilities: tuple[str, ...]) -> None:
        self.version = version
        self.capabilities = capabilities

    def __repr__(self) -> str:
        return f"Greeting(version={self.version!r}, capabilities={self.capabilities!r})"


class Negotiated:
    """Capabilities negotiation succeeded: command mode, with ``oob`` if it was enabled."""

    __slots__ = ("oob",)

    def __init__(self, oob: bool) -> None:
        self.oob = oob

    def __repr__(self) -> str:
        return f"Negotiated(oob={self.oob})"


class Reply:
    """A successful reply: ``value`` is the ``return`` member, for request ``id``."""

    __slots__ = ("id", "value")

    def __init__(self, id: int, value: JSONValue) -> None:
        self.id = id
        self.value = value

    def __repr__(self) -> str:
        return f"Reply(id={self.id}, value={self.value!r})"


class ErrorReply:
    """An error reply for request ``id`` (or for ``qmp_capabilities``, ``id`` None)."""

    __slots__ = ("desc", "error_class", "id")

    def __init__(self, id: int | None, error_class: str, desc: str) -> None:
        self.id = id
        self.error_class = error_class
        self.desc = desc

    def __repr__(self) -> str:
        return f"ErrorReply(id={self.id}, error_class={self.error_class!r}, desc={self.desc!r})"


class Event:
    """An event: its name, its ``data`` (``{}`` when the server sent none), and when the
    server says it happened (None if it sent no readable timestamp)."""

    __slots__ = ("data", "name", "timestamp")

    def __init__(
        self, name: str, data: dict[str, JSONValue], timestamp: EventTimestamp | None
    ) -> None:
        self.name = name
        self.data = data
        self.timestamp = timestamp

    def __repr__(self) -> str:
        return f"Event({self.name!r}, data={self.data!r}, timestamp={self.timestamp!r})"


ClientEvent = Greeting | Negotiated | Reply | ErrorReply | Event

# The id of the negotiation request: a string, so it can never clash with a command's.
_NEGOTIATION_ID: Final = "qmp_capabilities"
_dumps = orjson.dumps
_loads = orjson.loads


class ClientConnection:
    """One QMP connection, client side.

    ``limits`` bound what the server's bytes may make the engine hold (QEMU's own by
    default: one message up to 64 MiB).
    """

    __slots__ = (
        "_abandoned",
        "_end_of_input",
        "_frames",
        "_greeting",
        "_ignored",
        "_late",
        "_line_limit",
        "_next_id",
        "_oob_enabled",
        "_pending",
        "_requested_oob",
        "_row",
        "_state",
        "_streamer",
    )

    def __init__(self, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self._state = _State.AWAITING_GREETING
        self._row = _ROWS[self._state]
        self._streamer = JSONStreamer(limits)
        # A chunk this short cannot break a limit, whatever it holds.
        self._line_limit = min(limits.max_token_size, limits.max_token_count)
        self._frames: deque[FrameItem] = deque()
        self._end_of_input = False
        self._greeting: Greeting | None = None
        self._oob_enabled = False
        self._requested_oob = False
        self._next_id = 1
        # Requests sent and not yet answered; abandoned ones stay until their reply comes.
        self._pending: set[int] = set()
        self._abandoned: set[int] = set()
        self._late = 0
        self._ignored = 0

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def greeting(self) -> Greeting | None:
        return self._greeting

    @property
    def oob_enabled(self) -> bool:
        return self._oob_enabled

    @property
    def pending(self) -> frozenset[int]:
        """Ids of requests sent, not answered and not abandoned."""
        return frozenset(self._pending - self._abandoned)

    @property
    def late_replies(self) -> int:
        """Replies that came for abandoned requests, and were dropped."""
        return self._late

    @property
    def ignored_messages(self) -> int:
        """Messages of a kind this client does not know, skipped."""
        return self._ignored

    def _apply(self, trigger: ClientTrigger) -> None:
        target = self._row.get(trigger)
        if target is None:
            raise LocalProtocolError(
                f"{trigger.value} is not allowed in state '{self._state.value}'"
            )
        if target is not self._state:
            self._enter(target)

    def _enter(self, state: ClientState) -> None:
        self._state = state
        self._row = _ROWS[state]

    def _server_sent(self, trigger: ClientTrigger, what: str) -> None:
        target = self._row.get(trigger)
        if target is None:
            expected = _EXPECTED[self._state]
            self._close()
            raise RemoteProtocolError(f"the server sent {what}; expected {expected}")
        if target is not self._state:
            self._enter(target)

    def _close(self) -> None:
        self._enter(_State.CLOSED)
        self._frames.clear()
        self._end_of_input = True

    # -- input -------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Take bytes from the server; ``b""`` means the server closed its side."""
        if not data:
            self._apply(_Trigger.RECEIVE_EOF)
            self._end_of_input = True
            return
        self._apply(_Trigger.RECEIVE_DATA)
        if self._end_of_input:
            raise LocalProtocolError("receive_data(data) after end of input")
        if type(data) is not bytes:
            data = bytes(data)
        streamer = self._streamer
        if streamer.idle and data[-1:] == b"\n" and len(data) <= self._line_limit:
            # Servers write one message per line (QEMU and pyqmp do): whole lines are
            # decoded by orjson at once.  Anything else (a partial line, bytes orjson
            # refuses) goes through the streamer, which frames and reports exactly.
            try:
                self._frames.extend([_loads(line) for line in data.splitlines() if line.strip()])
                return
            except orjson.JSONDecodeError:
                pass
        self._frames.extend(streamer.feed(data))

    def next_event(self) -> ClientEvent | Signal:
        """What the server said next, or ``NEED_DATA`` / ``CONNECTION_CLOSED``.

        Raises :class:`RemoteProtocolError` when the server broke the protocol; the
        connection is closed then (every pending request is lost with it).
        """
        self._apply(_Trigger.NEXT_EVENT)
        frames = self._frames
        while frames:
            event = self._read(frames.popleft())
            if event is not None:
                return event
        if self._end_of_input:
            if self._state is not _State.CLOSED:
                self._apply(_Trigger.END_OF_INPUT)
            return CONNECTION_CLOSED
        return NEED_DATA

    def _read(self, item: FrameItem) -> ClientEvent | None:
        if type(item) is not dict:
            if isinstance(item, FrameError):
                self._close()
                raise RemoteProtocolError(f"the server sent bytes that are not JSON: {item.desc}")
            self._ignored += 1  # a JSON value that is not an object: not a message we know
            return None
        if "return" in item:
            return self._reply(item, item["return"], None)
        error = item.get("error")
        if error is not None:
            return self._reply(item, None, error)
        name = item.get("event")
        if name is not None:
            return self._event(item, name)
        greeting = item.get("QMP")
        if greeting is not None:
            return self._greeted(greeting)
        self._ignored += 1
        return None

    def _greeted(self, greeting: JSONValue) -> Greeting:
        self._server_sent(_Trigger.GREETING, "a greeting")
        capabilities = greeting.get("capabilities") if type(greeting) is dict else None
        if type(capabilities) is not list or not all(type(c) is str for c in capabilities):
            self._close()
            raise RemoteProtocolError(
                f"the server's greeting has no 'capabilities' list of strings: {_excerpt(greeting)}"
            )
        version = greeting.get("version") if type(greeting) is dict else None
        self._greeting = Greeting(version, tuple(capabilities))  # type: ignore[arg-type]
        return self._greeting

    def _reply(
        self, message: dict[str, JSONValue], value: JSONValue, error: JSONValue
    ) -> Reply | ErrorReply | Negotiated | None:
        negotiating = self._state is _State.NEGOTIATING
        self._server_sent(_Trigger.REPLY, "a reply")
        request_id = message.get("id")
        if negotiating:
            return self._negotiated(request_id, error)
        if type(request_id) is not int or request_id not in self._pending:
            self._close()
            raise RemoteProtocolError(
                f"the server sent a reply to no request of this client (id {request_id!r}): "
                f"{_excerpt(message)}"
            )
        self._pending.discard(request_id)
        if self._abandoned and request_id in self._abandoned:
            self._abandoned.discard(request_id)
            self._late += 1
            return None
        if error is None:
            return Reply(request_id, value)
        error_class, desc = _error_members(error, message)
        if error_class is None:
            self._close()
            raise RemoteProtocolError(desc)
        return ErrorReply(request_id, error_class, desc)

    def _negotiated(self, request_id: JSONValue, error: JSONValue) -> Negotiated | ErrorReply:
        # The table moved to command mode on this reply; it is only that if its id is ours.
        if request_id != _NEGOTIATION_ID:
            self._close()
            raise RemoteProtocolError(
                f"the server sent a reply with id {request_id!r}; expected the reply to "
                "qmp_capabilities"
            )
        if error is not None:
            self._enter(_State.GREETED)  # refused: the application may ask again
            error_class, desc = _error_members(error, {"error": error})
            return ErrorReply(None, error_class or ErrorClass.GENERIC_ERROR, desc)
        self._oob_enabled = self._requested_oob
        return Negotiated(self._oob_enabled)

    def _event(self, message: dict[str, JSONValue], name: JSONValue) -> Event:
        self._server_sent(_Trigger.EVENT, "an event")
        if type(name) is not str:
            self._close()
            raise RemoteProtocolError(
                f"the server sent an event whose name is not a string: {_excerpt(message)}"
            )
        data = message.get("data")
        if type(data) is not dict:
            data = {}  # QEMU omits data for events without members
        stamp = message.get("timestamp")
        timestamp = None
        if type(stamp) is dict:
            seconds = stamp.get("seconds")
            microseconds = stamp.get("microseconds")
            if type(seconds) is int and type(microseconds) is int:
                timestamp = EventTimestamp(seconds, microseconds)
        return Event(name, data, timestamp)

    # -- output ------------------------------------------------------------------------

    def negotiate(self, *, enable_oob: bool = False) -> bytes:
        """The ``qmp_capabilities`` request, asking for ``oob`` if ``enable_oob`` and
        the greeting offered it."""
        self._apply(_Trigger.NEGOTIATE)
        greeting = self._greeting
        self._requested_oob = enable_oob and greeting is not None and OOB in greeting.capabilities
        request: dict[str, JSONValue] = {"execute": QMP_CAPABILITIES, "id": _NEGOTIATION_ID}
        if self._requested_oob:
            request["arguments"] = {"enable": [OOB]}
        return _dumps(request) + b"\n"

    def send_command(
        self,
        name: str,
        arguments: Mapping[str, object] | None = None,
        *,
        oob: bool = False,
    ) -> tuple[int, bytes]:
        """A new request's id and the bytes to send for it.

        ``oob`` sends it as ``exec-oob`` (out of band), which needs OOB negotiated.
        Raises :class:`EncodeError` for arguments with no JSON form.
        """
        self._apply(_Trigger.SEND_COMMAND)
        if oob and not self._oob_enabled:
            raise LocalProtocolError(
                "exec-oob needs the 'oob' capability, which was not negotiated"
            )
        if name == QMP_CAPABILITIES:
            raise LocalProtocolError("qmp_capabilities is sent by negotiate(), once")
        request_id = self._next_id
        request: dict[str, object] = {"exec-oob" if oob else "execute": name, "id": request_id}
        if arguments is not None:
            request["arguments"] = arguments
        try:
            data = _dumps(request)
        except TypeError as error:
            raise EncodeError(f"arguments of {name!r} have no JSON form: {error}") from None
        self._next_id = request_id + 1
        self._pending.add(request_id)
        return request_id, data + b"\n"

    def abandon(self, request_id: int) -> None:
        """Stop waiting for ``request_id``'s reply (a timeout, a cancellation): when it
        comes, it is dropped, and counted in :attr:`late_replies`."""
        self._apply(_Trigger.ABANDON)
        if request_id in self._pending:
            self._abandoned.add(request_id)


def _error_members(error: JSONValue, message: Mapping[str, JSONValue]) -> tuple[str | None, str]:
    """(class, desc) of an ``error`` member, or (None, why it is malformed)."""
    if type(error) is dict:
        error_class = error.get("class")
        desc = error.get("desc")
        if type(error_class) is str and type(desc) is str:
            return error_class, desc
    return None, (
        "the server sent an error without a 'class' and 'desc' string: " + _excerpt(message)
    )


def _excerpt(value: object, limit: int = 200) -> str:
    """Enough of a server's message to recognise it in an error, never all of it."""
    try:
        text = _dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
