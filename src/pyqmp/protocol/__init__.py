"""QMP, the QEMU Machine Protocol, with no I/O: bytes in, typed events out, bytes back.

The engine is drivable with plain byte strings (no sockets, no event loop), in the
manner of h11::

    conn = ServerConnection({"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""},
                            command_exists={"query-status"}.__contains__)
    wire = conn.greeting()
    conn.receive_data(b'{"execute": "qmp_capabilities"}{"execute": "query-status", "id": 1}')
    event = conn.next_event()          # CommandRequest(execute='query-status', id=1)
    wire += conn.data_to_send()        # the engine's own reply to qmp_capabilities
    wire += conn.reply_return(event, {"status": "running", "singlestep": False, "running": True})

Everything QEMU 7.2 does at the protocol level is reproduced on the wire, byte for byte
where the engine writes the bytes: the JSON dialect and its limits
(:mod:`~pyqmp.protocol.framing`, :mod:`~pyqmp.protocol.qemu_json`), the request rules and
message shapes (:mod:`~pyqmp.protocol.messages`), capabilities negotiation
(:mod:`~pyqmp.protocol.negotiation`) and the connection's states and error answers
(:mod:`~pyqmp.protocol.connection`).  The client's side of the same wire is
:class:`ClientConnection` (:mod:`~pyqmp.protocol.client_connection`).  This package
never imports asyncio, socket or threading; the server and client parts bring the I/O.
"""

from .client_connection import (
    CLIENT_TRANSITIONS,
    ClientConnection,
    ClientEvent,
    ClientState,
    ClientTrigger,
    ErrorReply,
    Event,
    Greeting,
    Negotiated,
    Reply,
)
from .connection import (
    CONNECTION_CLOSED,
    NEED_DATA,
    PAUSED,
    TRANSITIONS,
    Outcome,
    Refusal,
    ServerConnection,
    Signal,
    State,
    Transition,
    Trigger,
)
from .errors import (
    ERROR_CLASS_NAMES,
    EncodeError,
    ErrorClass,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
)
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
    parse_request,
)
from .qemu_json import JSONParseError, JSONValue

__all__ = [
    "CLIENT_TRANSITIONS",
    "CONNECTION_CLOSED",
    "DEFAULT_LIMITS",
    "ERROR_CLASS_NAMES",
    "NEED_DATA",
    "PAUSED",
    "TRANSITIONS",
    "ClientConnection",
    "ClientEvent",
    "ClientState",
    "ClientTrigger",
    "CommandRequest",
    "EncodeError",
    "ErrorClass",
    "ErrorReply",
    "Event",
    "EventTimestamp",
    "FrameError",
    "FrameItem",
    "Greeting",
    "JSONParseError",
    "JSONStreamer",
    "JSONValue",
    "Limits",
    "LocalProtocolError",
    "Negotiated",
    "Outcome",
    "ProtocolError",
    "Refusal",
    "RemoteProtocolError",
    "Reply",
    "RequestError",
    "ServerConnection",
    "Signal",
    "State",
    "Transition",
    "Trigger",
    "encode_error",
    "encode_event",
    "encode_greeting",
    "encode_return",
    "parse_request",
]
