"""The connection state machine: one test per (state, trigger), then its behaviours."""

from __future__ import annotations

import itertools
import json

import pytest

from pyqmp.protocol import (
    CONNECTION_CLOSED,
    NEED_DATA,
    PAUSED,
    TRANSITIONS,
    CommandRequest,
    EventTimestamp,
    Limits,
    LocalProtocolError,
    Outcome,
    Refusal,
    ServerConnection,
    State,
    Trigger,
    encode_event,
)

VERSION = {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""}
COMMANDS = {"query-status": False, "query-yank": True}
NEG = b'{"execute": "qmp_capabilities"}\n'
NEG_OOB = b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}\n'


def connection(**options: object) -> ServerConnection:
    return ServerConnection(
        VERSION,
        command_exists=COMMANDS.__contains__,
        allows_oob=lambda name: COMMANDS[name],
        **options,  # type: ignore[arg-type]
    )


def negotiated(data: bytes = NEG, **options: object) -> ServerConnection:
    conn = connection(**options)
    conn.greeting()
    conn.receive_data(data)
    assert conn.next_event() is NEED_DATA
    assert conn.data_to_send().startswith(b'{"return": {}')
    return conn


def request(conn: ServerConnection, data: bytes) -> CommandRequest:
    conn.receive_data(data)
    event = conn.next_event()
    assert isinstance(event, CommandRequest), (event, conn.data_to_send())
    return event


def lines(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.split(b"\r\n") if line]


# -- the state table ---------------------------------------------------------------------


def in_state(
    state: State, offer_oob: bool = True
) -> tuple[ServerConnection, CommandRequest | None]:
    """A connection in ``state`` and, where one can exist, a request awaiting a reply."""
    conn = connection(offer_oob=offer_oob or state is State.CLOSED)
    if state is State.AWAITING_GREETING:
        return conn, None
    conn.greeting()
    if state is State.NEGOTIATING:
        return conn, None
    if state is State.COMMAND_MODE:
        conn.receive_data(NEG)
        conn.next_event()
        return conn, request(conn, b'{"execute": "query-status", "id": 1}')
    conn.receive_data(NEG_OOB)
    conn.next_event()
    # An out-of-band request still awaits its reply when the client goes away.
    pending = request(conn, b'{"exec-oob": "query-yank", "id": 1}')
    conn.receive_data(b"")
    assert conn.next_event() is CONNECTION_CLOSED
    assert conn.state is State.CLOSED
    return conn, pending


def perform(conn: ServerConnection, trigger: Trigger, pending: CommandRequest | None) -> bytes:
    """Make ``trigger`` happen; return what the engine sent for it."""
    if trigger is Trigger.SEND_GREETING:
        return conn.greeting()
    if trigger is Trigger.RECEIVE_DATA:
        conn.receive_data(b" ")
        return b""
    if trigger is Trigger.RECEIVE_EOF:
        conn.receive_data(b"")
        return b""
    if trigger is Trigger.NEXT_EVENT:
        conn.next_event()
        return conn.data_to_send()
    if trigger is Trigger.SEND_REPLY:
        return conn.reply_return(pending or CommandRequest("query-status", {}), {})
    if trigger is Trigger.SEND_EVENT:
        return conn.event("EVENT", None, 0.0)
    if pending is not None:
        conn.reply_return(pending, {})
    if trigger is Trigger.CAPABILITIES:
        conn.receive_data(b'{"execute": "qmp_capabilities", "id": 2}')
    elif trigger is Trigger.UNOFFERED_CAPABILITIES:  # (the connection offers none)
        conn.receive_data(
            b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}, "id": 2}'
        )
    elif trigger is Trigger.COMMAND:
        conn.receive_data(b'{"execute": "query-status", "id": 3}')
    else:
        conn.receive_data(b"")
    conn.next_event()
    return conn.data_to_send()


@pytest.mark.parametrize(
    ("state", "trigger"),
    list(itertools.product(State, Trigger)),
    ids=[f"{state.name}-{trigger.name}" for state, trigger in itertools.product(State, Trigger)],
)
def test_transition(state: State, trigger: Trigger) -> None:
    conn, pending = in_state(state, offer_oob=trigger is not Trigger.UNOFFERED_CAPABILITIES)
    entry = TRANSITIONS.get((state, trigger))
    if entry is None:
        # Not in the table: the application cannot make it happen.
        with pytest.raises(LocalProtocolError):
            perform(conn, trigger, pending)
        return
    next_state, outcome = entry
    sent = perform(conn, trigger, pending)
    assert conn.state is next_state
    if isinstance(outcome, Refusal):
        (answer,) = lines(sent)
        desc = outcome.describe("oob")  # what the unoffered request asked for
        assert answer["error"] == {"class": outcome.error_class, "desc": desc}
        assert "id" in answer  # these refusals echo the request's id
    elif outcome is Outcome.DROP:
        assert sent == b""  # nobody would read it
    elif trigger is Trigger.SEND_EVENT:
        assert lines(sent)[-1]["event"] == "EVENT"
    elif trigger is Trigger.CAPABILITIES:
        assert lines(sent) == [{"return": {}, "id": 2}]


def test_table_is_small_and_total_for_client_requests() -> None:
    assert len(TRANSITIONS) < 30
    for state in (State.NEGOTIATING, State.COMMAND_MODE):
        for trigger in (
            Trigger.CAPABILITIES,
            Trigger.UNOFFERED_CAPABILITIES,
            Trigger.COMMAND,
            Trigger.END_OF_INPUT,
        ):
            assert (state, trigger) in TRANSITIONS


# -- negotiation ---------------------------------------------------------------------------


def test_greeting_offers_oob() -> None:
    assert json.loads(connection().greeting()) == {
        "QMP": {"version": VERSION, "capabilities": ["oob"]}
    }
    assert json.loads(connection(offer_oob=False).greeting())["QMP"]["capabilities"] == []


def test_command_before_negotiation() -> None:
    conn = connection()
    conn.greeting()
    conn.receive_data(b'{"execute": "query-status", "id": "x"}{"execute": "nope"}')
    assert conn.next_event() is NEED_DATA
    refusal = {
        "class": "CommandNotFound",
        "desc": "Expecting capabilities negotiation with 'qmp_capabilities'",
    }
    assert lines(conn.data_to_send()) == [{"id": "x", "error": refusal}, {"error": refusal}]
    assert not conn.negotiated


def test_negotiating_twice() -> None:
    conn = negotiated()
    conn.receive_data(b'{"execute": "qmp_capabilities", "id": 9}')
    assert conn.next_event() is NEED_DATA
    assert conn.data_to_send() == (
        b'{"id": 9, "error": {"class": "CommandNotFound", "desc": "Capabilities negotiation'
        b' is already complete, command ignored"}}\r\n'
    )


@pytest.mark.parametrize(
    ("arguments", "desc"),
    [
        ('{"enable": ["foo"]}', "Parameter 'null' does not accept value 'foo'"),
        ('{"enable": "oob"}', "Invalid parameter type for 'enable', expected: array"),
        ('{"enable": [true]}', "Invalid parameter type for 'enable[0]', expected: string"),
        ('{"foo": 1}', "Parameter 'foo' is unexpected"),
        ('{"foo": 1, "bar": 2}', "Parameter 'bar' is unexpected"),
    ],
)
def test_bad_capabilities_arguments(arguments: str, desc: str) -> None:
    conn = connection()
    conn.greeting()
    conn.receive_data(b'{"execute": "qmp_capabilities", "arguments": ' + arguments.encode() + b"}")
    assert conn.next_event() is NEED_DATA
    assert lines(conn.data_to_send()) == [{"error": {"class": "GenericError", "desc": desc}}]
    assert conn.state is State.NEGOTIATING


def test_capability_not_offered() -> None:
    conn = connection(offer_oob=False)
    conn.greeting()
    conn.receive_data(b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob", "oob"]}}')
    assert conn.next_event() is NEED_DATA
    assert lines(conn.data_to_send()) == [
        {"error": {"class": "GenericError", "desc": "Capability oob, oob not available"}}
    ]
    assert conn.state is State.NEGOTIATING


def test_events_only_after_negotiation() -> None:
    conn = connection()
    assert conn.event("STOP", None, 1.5) == b""
    conn.greeting()
    assert conn.event("STOP", None, 1.5) == b""
    conn.receive_data(NEG)
    conn.next_event()
    # The reply to qmp_capabilities goes out before the first event.
    assert conn.event("STOP", {"a": 1}, 1.5) == (
        b'{"return": {}}\r\n'
        b'{"timestamp": {"seconds": 1, "microseconds": 500000}, "event": "STOP",'
        b' "data": {"a":1}}\r\n'
    )


def test_an_encoded_event_follows_the_same_table() -> None:
    message = encode_event("STOP", None, EventTimestamp(1, 5))
    conn = connection()
    assert conn.encoded_event(message) == b""
    conn.greeting()
    assert conn.encoded_event(message) == b""
    conn.receive_data(NEG)
    conn.next_event()
    assert conn.encoded_event(message) == b'{"return": {}}\r\n' + message
    assert conn.encoded_event(message) == conn.event("STOP", None, EventTimestamp(1, 5))
    conn.receive_data(b"")
    assert conn.next_event() is CONNECTION_CLOSED
    assert conn.encoded_event(message) == b""


# -- requests and replies ------------------------------------------------------------------


def test_query_status_round_trip() -> None:
    conn = negotiated()
    event = request(conn, b'{"execute": "query-status", "id": 1}')
    assert (event.name, event.arguments, event.id, event.has_id, event.oob) == (
        "query-status",
        {},
        1,
        True,
        False,
    )
    assert conn.reply_return(event, {"status": "running"}) == (
        b'{"return": {"status":"running"}, "id": 1}\r\n'
    )
    assert conn.next_event() is NEED_DATA


def test_unknown_command() -> None:
    conn = negotiated()
    conn.receive_data(b'{"execute": "nope", "id": [1]}')
    assert conn.next_event() is NEED_DATA
    assert conn.data_to_send() == (
        b'{"id": [1], "error": {"class": "CommandNotFound", '
        b'"desc": "The command nope has not been found"}}\r\n'
    )


def test_every_command_exists_by_default() -> None:
    conn = ServerConnection(VERSION)
    conn.greeting()
    conn.receive_data(NEG + b'{"execute": "anything"}')
    event = conn.next_event()
    assert isinstance(event, CommandRequest) and event.name == "anything"


def test_reply_error_and_encoded_return() -> None:
    conn = negotiated()
    first = request(conn, b'{"execute": "query-status"}')
    assert conn.reply_error(first, "DeviceNotFound", "no \u00e9") == (
        b'{"error": {"class": "DeviceNotFound", "desc": "no \\u00E9"}}\r\n'
    )
    second = request(conn, b'{"execute": "query-status", "id": "z"}')
    assert conn.reply_encoded_return(second, b'{"a":1}') == b'{"return": {"a":1}, "id": "z"}\r\n'


def test_replying_twice_or_to_a_stranger_is_refused() -> None:
    conn = negotiated()
    event = request(conn, b'{"execute": "query-status"}')
    conn.reply_return(event, {})
    with pytest.raises(LocalProtocolError):
        conn.reply_return(event, {})
    with pytest.raises(LocalProtocolError):
        conn.reply_return(CommandRequest("query-status", {}), {})


def test_an_engine_answer_waits_for_the_in_band_reply_before_it() -> None:
    conn = negotiated(NEG_OOB)
    first = request(conn, b'{"execute": "query-status", "id": 1}{"execute": "nope", "id": 2}')
    assert conn.next_event() is NEED_DATA
    assert conn.data_to_send() == b""  # the answer for id 2 must not overtake id 1
    sent = conn.reply_return(first, {})
    assert [message["id"] for message in lines(sent)] == [1, 2]


def test_in_band_replies_keep_request_order() -> None:
    conn = negotiated(NEG_OOB)
    conn.receive_data(b"".join(b'{"execute": "query-status", "id": %d}' % n for n in range(3)))
    first, second, third = (conn.next_event() for _ in range(3))
    assert isinstance(first, CommandRequest) and isinstance(second, CommandRequest)
    assert isinstance(third, CommandRequest)
    assert conn.reply_return(third, {}) == b""
    assert conn.reply_return(second, {}) == b""
    assert [message["id"] for message in lines(conn.reply_return(first, {}))] == [0, 1, 2]


def test_oob_overtakes_in_band() -> None:
    conn = negotiated(NEG_OOB)
    conn.receive_data(
        b'{"execute": "query-status", "id": 1}{"exec-oob": "query-yank", "id": 2}'
        b'{"exec-oob": "query-status", "id": 3}'
    )
    in_band = conn.next_event()
    oob = conn.next_event()
    assert isinstance(in_band, CommandRequest) and isinstance(oob, CommandRequest) and oob.oob
    assert conn.next_event() is NEED_DATA
    # The refusal of id 3 is an OOB answer: it goes at once.
    assert lines(conn.data_to_send()) == [
        {
            "id": 3,
            "error": {
                "class": "GenericError",
                "desc": "The command query-status does not support OOB",
            },
        }
    ]
    assert lines(conn.reply_return(oob, [])) == [{"return": [], "id": 2}]
    assert lines(conn.reply_return(in_band, {})) == [{"return": {}, "id": 1}]


def test_exec_oob_without_oob() -> None:
    conn = negotiated()
    conn.receive_data(b'{"exec-oob": "query-yank", "id": 7}')
    assert conn.next_event() is NEED_DATA
    assert lines(conn.data_to_send()) == [
        {
            "id": 7,
            "error": {"class": "GenericError", "desc": "QMP input member 'exec-oob' is unexpected"},
        }
    ]


def test_one_in_band_request_at_a_time_without_oob() -> None:
    conn = negotiated()
    conn.receive_data(b'{"execute": "query-status", "id": 1}{"execute": "query-status", "id": 2}')
    first = conn.next_event()
    assert isinstance(first, CommandRequest)
    assert conn.next_event() is PAUSED
    conn.reply_return(first, {})
    second = conn.next_event()
    assert isinstance(second, CommandRequest) and second.id == 2


def test_queue_limit_with_oob() -> None:
    conn = negotiated(NEG_OOB, limits=Limits(max_queued_requests=3))
    conn.receive_data(b'{"execute": "query-status"}' * 5 + b'{"exec-oob": "query-yank"}')
    taken = [conn.next_event() for _ in range(3)]
    assert all(isinstance(event, CommandRequest) for event in taken)
    assert conn.next_event() is PAUSED
    conn.reply_return(taken[0], {})  # type: ignore[arg-type]
    assert isinstance(conn.next_event(), CommandRequest)
    assert conn.next_event() is PAUSED


def test_json_errors_have_no_id() -> None:
    conn = negotiated()
    conn.receive_data(b'{"execute": "query-status", "id": 1, }\n')
    assert conn.next_event() is NEED_DATA
    assert lines(conn.data_to_send()) == [
        {"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}
    ]


def test_requests_before_end_of_input_are_still_taken() -> None:
    conn = negotiated()
    conn.receive_data(b'{"execute": "query-status"}{"execute": "quit"')
    conn.receive_data(b"")
    event = conn.next_event()
    assert isinstance(event, CommandRequest)
    assert conn.next_event() is PAUSED
    conn.reply_return(event, {})
    assert conn.next_event() is CONNECTION_CLOSED  # the unfinished one is dropped, as in QEMU
    assert conn.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"more")


def test_replies_after_close_are_dropped() -> None:
    conn = negotiated(NEG_OOB)
    event = request(conn, b'{"execute": "query-status"}')
    conn.receive_data(b"")
    assert conn.next_event() is CONNECTION_CLOSED
    assert conn.reply_return(event, {}) == b""
    assert conn.event("STOP", None, 0.0) == b""


def test_data_after_end_of_input_is_refused() -> None:
    conn = negotiated()
    conn.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"{}")


def test_any_bytes_like_input() -> None:
    conn = negotiated()
    conn.receive_data(bytearray(b'{"execute": '))
    conn.receive_data(memoryview(b'"query-status"}'))
    assert isinstance(conn.next_event(), CommandRequest)


def test_next_event_before_greeting_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="greeting"):
        connection().next_event()


def test_package_docstring_example() -> None:
    import pyqmp.protocol

    source = pyqmp.protocol.__doc__
    assert source is not None
    example = "\n".join(line[4:] for line in source.split("::", 1)[1].split("\n\n")[1].splitlines())
    namespace: dict[str, object] = {}
    exec(example, vars(pyqmp.protocol) | namespace, namespace)
    assert namespace["wire"].endswith(  # type: ignore[attr-defined]
        b'{"return": {}}\r\n{"return": {"status":"running","singlestep":false,"running":true},'
        b' "id": 1}\r\n'
    )
