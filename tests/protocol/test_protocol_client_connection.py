"""The client state machine, driven with byte strings: every row of its table, then what it
does with replies, late replies, events and a server that breaks the protocol."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyqmp.protocol import (
    CLIENT_TRANSITIONS,
    CONNECTION_CLOSED,
    NEED_DATA,
    ClientConnection,
    ClientState,
    ClientTrigger,
    ErrorReply,
    Event,
    EventTimestamp,
    Greeting,
    Limits,
    LocalProtocolError,
    Negotiated,
    RemoteProtocolError,
    Reply,
    ServerConnection,
)

GREETING = (
    b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, '
    b'"capabilities": ["oob"]}}\r\n'
)


def greeted() -> ClientConnection:
    conn = ClientConnection()
    conn.receive_data(GREETING)
    event = conn.next_event()
    assert isinstance(event, Greeting)
    return conn


def negotiated(oob: bool = False) -> ClientConnection:
    conn = greeted()
    request = json.loads(conn.negotiate(enable_oob=oob))
    assert request["execute"] == "qmp_capabilities"
    conn.receive_data(b'{"return": {}, "id": %s}\r\n' % json.dumps(request["id"]).encode())
    event = conn.next_event()
    assert isinstance(event, Negotiated) and event.oob is oob
    assert conn.state is ClientState.COMMAND_MODE
    return conn


def reply(request_id: int, value: object = None) -> bytes:
    return (
        json.dumps({"return": {} if value is None else value, "id": request_id}).encode() + b"\r\n"
    )


# -- the table --------------------------------------------------------------------------

APPLICATION_CALLS = {
    ClientTrigger.RECEIVE_DATA: lambda conn: conn.receive_data(b" "),
    ClientTrigger.RECEIVE_EOF: lambda conn: conn.receive_data(b""),
    ClientTrigger.NEXT_EVENT: lambda conn: conn.next_event(),
    ClientTrigger.NEGOTIATE: lambda conn: conn.negotiate(),
    ClientTrigger.SEND_COMMAND: lambda conn: conn.send_command("query-status"),
    ClientTrigger.ABANDON: lambda conn: conn.abandon(1),
}


def in_state(state: ClientState) -> ClientConnection:
    if state is ClientState.AWAITING_GREETING:
        return ClientConnection()
    if state is ClientState.GREETED:
        return greeted()
    if state is ClientState.NEGOTIATING:
        conn = greeted()
        conn.negotiate()
        return conn
    conn = negotiated()
    if state is ClientState.CLOSED:
        conn.receive_data(b"")
        assert conn.next_event() is CONNECTION_CLOSED
    assert conn.state is state
    return conn


@pytest.mark.parametrize("state", list(ClientState), ids=lambda s: s.name)
@pytest.mark.parametrize("trigger", list(APPLICATION_CALLS), ids=lambda t: t.name)
def test_application_calls_follow_the_table(state: ClientState, trigger: ClientTrigger) -> None:
    conn = in_state(state)
    call = APPLICATION_CALLS[trigger]
    if (state, trigger) in CLIENT_TRANSITIONS:
        call(conn)
        assert conn.state is CLIENT_TRANSITIONS[state, trigger]
    else:
        with pytest.raises(LocalProtocolError, match="not allowed in state"):
            call(conn)
        assert conn.state is state


SERVER_MESSAGES = {
    ClientTrigger.GREETING: GREETING,
    ClientTrigger.REPLY: b'{"return": {}, "id": 1}\r\n',
    ClientTrigger.EVENT: b'{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}\r\n',
}


@pytest.mark.parametrize(
    "state", [s for s in ClientState if s is not ClientState.CLOSED], ids=lambda s: s.name
)
@pytest.mark.parametrize("trigger", list(SERVER_MESSAGES), ids=lambda t: t.name)
def test_server_messages_follow_the_table(state: ClientState, trigger: ClientTrigger) -> None:
    conn = in_state(state)
    if state is ClientState.COMMAND_MODE:
        conn.send_command("query-status")  # id 1, so that the reply is to something
    conn.receive_data(SERVER_MESSAGES[trigger])
    if (state, trigger) in CLIENT_TRANSITIONS and not (
        state is ClientState.NEGOTIATING and trigger is ClientTrigger.REPLY
    ):
        assert conn.next_event() is not NEED_DATA
        assert conn.state is CLIENT_TRANSITIONS[state, trigger]
    else:
        # (a reply while negotiating must carry the negotiation's id: id 1 is not it)
        with pytest.raises(RemoteProtocolError, match="expected"):
            conn.next_event()
        assert conn.state is ClientState.CLOSED


def test_every_state_is_reachable_and_closes_on_end_of_input() -> None:
    for state in ClientState:
        conn = in_state(state)
        if state is not ClientState.CLOSED:
            conn.receive_data(b"")
        assert conn.next_event() is CONNECTION_CLOSED
        assert conn.state is ClientState.CLOSED


# -- negotiation -----------------------------------------------------------------------


def test_greeting_and_negotiation_with_and_without_oob() -> None:
    conn = ClientConnection()
    assert conn.next_event() is NEED_DATA
    conn.receive_data(GREETING[:10])
    assert conn.next_event() is NEED_DATA
    conn.receive_data(GREETING[10:])
    greeting = conn.next_event()
    assert isinstance(greeting, Greeting)
    assert greeting.capabilities == ("oob",)
    assert greeting.version == {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}
    assert json.loads(conn.negotiate(enable_oob=True)) == {
        "execute": "qmp_capabilities",
        "arguments": {"enable": ["oob"]},
        "id": "qmp_capabilities",
    }
    assert negotiated(oob=True).oob_enabled
    assert not negotiated(oob=False).oob_enabled


def test_oob_is_not_asked_for_when_not_offered() -> None:
    conn = ClientConnection()
    conn.receive_data(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')
    conn.next_event()
    assert "arguments" not in json.loads(conn.negotiate(enable_oob=True))


def test_a_refused_negotiation_can_be_tried_again() -> None:
    conn = greeted()
    conn.negotiate(enable_oob=True)
    conn.receive_data(
        b'{"id": "qmp_capabilities", "error": {"class": "GenericError", '
        b'"desc": "Capability oob not available"}}\r\n'
    )
    refused = conn.next_event()
    assert isinstance(refused, ErrorReply) and refused.desc == "Capability oob not available"
    assert conn.state is ClientState.GREETED
    conn.negotiate()
    conn.receive_data(b'{"return": {}, "id": "qmp_capabilities"}\r\n')
    assert isinstance(conn.next_event(), Negotiated)


def test_exec_oob_needs_the_capability() -> None:
    with pytest.raises(LocalProtocolError, match="oob"):
        negotiated(oob=False).send_command("query-status", oob=True)
    _, data = negotiated(oob=True).send_command("x-oob-test", {"lock": True}, oob=True)
    assert json.loads(data) == {"exec-oob": "x-oob-test", "arguments": {"lock": True}, "id": 1}
    with pytest.raises(LocalProtocolError, match="negotiate"):
        negotiated().send_command("qmp_capabilities")


# -- replies ---------------------------------------------------------------------------


def test_replies_are_matched_by_id_not_by_order() -> None:
    conn = negotiated()
    first, data = conn.send_command("query-status")
    assert json.loads(data) == {"execute": "query-status", "id": first}
    second, data = conn.send_command("balloon", {"value": 1 << 30})
    assert json.loads(data) == {"execute": "balloon", "arguments": {"value": 1 << 30}, "id": second}
    assert conn.pending == {first, second}
    conn.receive_data(
        reply(second) + b'{"id": %d, "error": {"class": "GenericError", "desc": "no"}}\r\n' % first
    )
    got = conn.next_event()
    assert isinstance(got, Reply) and (got.id, got.value) == (second, {})
    error = conn.next_event()
    assert isinstance(error, ErrorReply)
    assert (error.id, error.error_class, error.desc) == (first, "GenericError", "no")
    assert conn.next_event() is NEED_DATA
    assert conn.pending == frozenset()


def test_an_abandoned_request_keeps_its_id_and_its_late_reply_is_dropped() -> None:
    conn = negotiated()
    late, _ = conn.send_command("query-status")
    conn.abandon(late)
    assert conn.pending == frozenset()
    current, _ = conn.send_command("query-status")
    conn.receive_data(reply(late, {"status": "old"}) + reply(current, {"status": "new"}))
    got = conn.next_event()
    assert isinstance(got, Reply) and got.id == current and got.value == {"status": "new"}
    assert conn.late_replies == 1
    # a second reply to the abandoned id is a reply to nothing
    conn.receive_data(reply(late))
    with pytest.raises(RemoteProtocolError, match="reply to no request"):
        conn.next_event()


def test_abandoning_an_answered_request_does_nothing() -> None:
    conn = negotiated()
    request_id, _ = conn.send_command("stop")
    conn.receive_data(reply(request_id))
    assert isinstance(conn.next_event(), Reply)
    conn.abandon(request_id)
    conn.abandon(12345)
    next_id, _ = conn.send_command("stop")
    conn.receive_data(reply(next_id))
    assert isinstance(conn.next_event(), Reply)
    assert conn.late_replies == 0


def test_arguments_with_no_json_form_are_refused_before_anything_is_sent() -> None:
    from pyqmp.protocol import EncodeError

    conn = negotiated()
    with pytest.raises(EncodeError, match="'balloon'"):
        conn.send_command("balloon", {"value": object()})
    assert conn.pending == frozenset()
    request_id, _ = conn.send_command("stop")
    assert request_id == 1  # the refused request used no id


# -- events ----------------------------------------------------------------------------


def test_events_with_and_without_data() -> None:
    conn = negotiated()
    conn.receive_data(
        b'{"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event": "STOP"}\r\n'
        b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "BALLOON_CHANGE", '
        b'"data": {"actual": 1073741824}}\r\n'
        b'{"event": "NEW_THING", "data": {"x": [1]}, "timestamp": "later"}\r\n'
    )
    stop, change, new = conn.next_event(), conn.next_event(), conn.next_event()
    assert isinstance(stop, Event) and (stop.name, stop.data) == ("STOP", {})
    assert stop.timestamp == EventTimestamp(1700000000, 5)
    assert isinstance(change, Event) and change.data == {"actual": 1073741824}
    assert isinstance(new, Event) and new.timestamp is None and new.data == {"x": [1]}


# -- a server that is newer, or that breaks the protocol -------------------------------


def test_unknown_members_and_message_kinds_are_skipped() -> None:
    conn = negotiated()
    request_id, _ = conn.send_command("query-status")
    conn.receive_data(
        b'{"notice": "something new"}\r\n[1, 2]\r\n'
        b'{"return": {"status": "running"}, "id": %d, "extra": true}\r\n' % request_id
    )
    got = conn.next_event()
    assert isinstance(got, Reply) and got.value == {"status": "running"}
    assert conn.ignored_messages == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"garbage\r\n", "not JSON"),
        (b'{"return": {}}\r\n', "reply to no request"),
        (b'{"return": {}, "id": "1"}\r\n', "reply to no request"),
        (b'{"return": {}, "id": 99}\r\n', "reply to no request"),
        (b'{"error": "bad", "id": 1}\r\n', "'class' and 'desc'"),
        (b'{"error": {"class": 1, "desc": "x"}, "id": 1}\r\n', "'class' and 'desc'"),
        (b'{"event": 5}\r\n', "name is not a string"),
        (GREETING, "expected replies and events"),
    ],
)
def test_protocol_violations_close_the_connection(data: bytes, message: str) -> None:
    conn = negotiated()
    conn.send_command("query-status")
    conn.receive_data(data)
    with pytest.raises(RemoteProtocolError, match=message):
        conn.next_event()
    assert conn.state is ClientState.CLOSED
    assert conn.next_event() is CONNECTION_CLOSED


@pytest.mark.parametrize(
    "greeting",
    [b'{"QMP": {}}\r\n', b'{"QMP": 1}\r\n', b'{"QMP": {"capabilities": [1]}}\r\n'],
)
def test_malformed_greetings(greeting: bytes) -> None:
    conn = ClientConnection()
    conn.receive_data(greeting)
    with pytest.raises(RemoteProtocolError, match="greeting"):
        conn.next_event()


def test_messages_past_the_limits_are_refused_without_being_held() -> None:
    conn = ClientConnection(limits=Limits(max_token_size=1000, max_token_count=100))
    conn.receive_data(b'{"QMP": {"version": {}, "capabilities": []}, "x": "' + b"a" * 5000)
    with pytest.raises(RemoteProtocolError, match="token size"):
        conn.next_event()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=50))
def test_arbitrary_server_bytes_give_events_or_a_remote_protocol_error(
    data: bytes, chunk: int
) -> None:
    conn = negotiated()
    conn.send_command("query-status")
    try:
        for start in range(0, len(data), chunk):
            conn.receive_data(data[start : start + chunk])
            while conn.next_event() is not NEED_DATA:
                pass
    except RemoteProtocolError:
        assert conn.state is ClientState.CLOSED


def test_the_client_engine_talks_to_the_server_engine() -> None:
    """Both ends of the wire, sans-IO, in one test: what one sends the other takes."""
    server = ServerConnection({"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""})
    client = ClientConnection()
    client.receive_data(server.greeting())
    assert isinstance(client.next_event(), Greeting)
    server.receive_data(client.negotiate(enable_oob=True))
    assert server.next_event() is NEED_DATA
    client.receive_data(server.data_to_send())
    assert isinstance(client.next_event(), Negotiated)
    ids = []
    for index in range(3):
        request_id, data = client.send_command("echo", {"n": index})
        ids.append(request_id)
        server.receive_data(data)
        request = server.next_event()
        client.receive_data(server.reply_return(request, {"n": index}))  # type: ignore[arg-type]
    client.receive_data(server.event("DONE", {"count": 3}, 1.5))
    values = [client.next_event() for _ in range(4)]
    assert [v.value for v in values[:3]] == [{"n": 0}, {"n": 1}, {"n": 2}]  # type: ignore[union-attr]
    assert [v.id for v in values[:3]] == ids  # type: ignore[union-attr]
    done = values[3]
    assert isinstance(done, Event) and done.timestamp == EventTimestamp(1, 500000)
