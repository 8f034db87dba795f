"""QMPClient against a scripted server in the same event loop: replies, errors, timeouts,
cancellation, late replies, lost connections, a server that breaks the protocol, events,
reconnection and TLS.  Every wait is bounded (``bounded``); none is a fixed sleep."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

import pytest
import trustme
from fake_qmp_server import FakeConnection, FakeServer

from pyqmp.client import (
    CommandTimeout,
    ConnectError,
    ConnectionLost,
    ExecuteError,
    QMPClient,
    Reconnect,
    Runstate,
    ServerProtocolError,
)

T = TypeVar("T")
DEADLINE = 10.0


async def bounded(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, DEADLINE)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(bounded(coroutine))


async def until(condition: Any) -> None:
    """Wait (bounded) until ``condition()`` holds."""
    while not condition():
        await asyncio.sleep(0.005)


async def held_back(server: FakeServer, conn: FakeConnection, request: dict[str, Any]) -> None:
    """'hang' is never answered (until the test does); 'fail' errs; the rest echo."""
    if request.get("execute") == "hang":
        return
    if request.get("execute") == "fail":
        conn.error(request, "DeviceNotFound", "Device 'x' not found")
        return
    conn.reply(request, request.get("arguments", {}))


def test_execute_returns_the_value_and_raises_error_replies() -> None:
    async def main() -> None:
        async with FakeServer(held_back) as server, QMPClient("t") as qmp:
            await qmp.connect(f"unix:{server.path}", timeout=5)
            assert qmp.runstate is Runstate.RUNNING
            assert qmp.greeting is not None and qmp.greeting.capabilities == ("oob",)
            assert await qmp.execute("echo", {"a": [1, "b"]}) == {"a": [1, "b"]}
            assert await qmp.execute("nothing") == {}
            with pytest.raises(ExecuteError) as raised:
                await qmp.execute("fail")
            error = raised.value
            assert (error.command, error.error_class, error.desc) == (
                "fail",
                "DeviceNotFound",
                "Device 'x' not found",
            )
            assert str(error) == "Device 'x' not found"
            assert "arguments" not in server.requests[1]
        assert qmp.runstate is Runstate.IDLE

    run(main())


def test_a_timeout_keeps_the_id_and_the_late_reply_is_dropped() -> None:
    async def main() -> None:
        async with FakeServer(held_back) as server, QMPClient() as qmp:
            await qmp.connect(server.path)
            started = time.monotonic()
            with pytest.raises(CommandTimeout) as raised:
                await qmp.execute("hang", timeout=0.3)
            assert time.monotonic() - started >= 0.3
            assert isinstance(raised.value, TimeoutError)
            assert "'hang'" in str(raised.value) and "0.3 s" in str(raised.value)
            hung = server.requests[-1]
            # the next call gets its own reply, even though the late one comes first
            conn = server.connections[0]
            call = asyncio.ensure_future(qmp.execute("echo", {"n": 2}))
            await until(lambda: len(server.requests) == 2)
            conn.reply(hung, {"n": "late"})
            assert await bounded(call) == {"n": 2}
            assert qmp.late_replies == 1
            assert qmp.runstate is Runstate.RUNNING

    run(main())


def test_a_cancelled_call_raises_cancelled_and_its_reply_is_dropped() -> None:
    async def main() -> None:
        async with FakeServer(held_back) as server, QMPClient() as qmp:
            await qmp.connect(server.path)
            call = asyncio.ensure_future(qmp.execute("hang"))
            await until(lambda: server.requests)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            server.connections[0].reply(server.requests[0], {"late": True})
            assert await qmp.execute("echo", {"x": 1}) == {"x": 1}
            assert qmp.late_replies == 1

    run(main())


def test_the_client_wide_default_timeout_and_a_per_call_override() -> None:
    async def main() -> None:
        async with FakeServer(held_back) as server, QMPClient(timeout=0.2) as qmp:
            await qmp.connect(server.path)
            with pytest.raises(CommandTimeout):
                await qmp.execute("hang")
            call = asyncio.ensure_future(qmp.execute("hang", timeout=None))
            await until(lambda: len(server.requests) == 2)
            await asyncio.sleep(0.3)  # past the default: the call must still be waiting
            assert not call.done()
            server.connections[0].reply(server.requests[1], "ok")
            assert await bounded(call) == "ok"

    run(main())


def test_a_lost_connection_fails_every_pending_call_at_once_and_later_calls_too() -> None:
    async def main() -> None:
        async with FakeServer(held_back) as server, QMPClient("vm") as qmp:
            await qmp.connect(server.path)
            calls = [asyncio.ensure_future(qmp.execute("hang")) for _ in range(3)]
            await until(lambda: len(server.requests) == 3)
            server.connections[0].hang_up()
            results = await bounded(asyncio.gather(*calls, return_exceptions=True))
            assert all(isinstance(result, ConnectionLost) for result in results), results
            assert all(isinstance(result, ConnectionError) for result in results)
            assert "qmp[vm]" in str(results[0])
            with pytest.raises(ConnectionLost, match="not connected"):
                await qmp.execute("echo")
            assert qmp.runstate is Runstate.IDLE

    run(main())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe garbage {]\r\n", "not JSON"),
        (b'{"return": {}, "id": 424242}\r\n', "reply to no request"),
        (b'{"QMP": {"version": {}, "capabilities": []}}\r\n', "a greeting"),
    ],
)
def test_a_server_breaking_the_protocol_fails_the_calls_with_a_precise_error(
    data: bytes, message: str
) -> None:
    async def main() -> None:
        async with FakeServer(held_back) as server, QMPClient() as qmp:
            await qmp.connect(server.path)
            call = asyncio.ensure_future(qmp.execute("hang"))
            await until(lambda: server.requests)
            server.connections[0].write(data)
            with pytest.raises(ServerProtocolError, match=message):
                await bounded(call)

    run(main())


def test_connect_failures_are_connect_errors() -> None:
    async def main() -> None:
        qmp = QMPClient("x")
        with pytest.raises(ConnectError, match="failed connecting") as raised:
            await qmp.connect("unix:/nonexistent/qmp.sock", timeout=2)
        assert isinstance(raised.value.__cause__, OSError)
        assert qmp.runstate is Runstate.IDLE
        # a server that never greets: the timeout says which step it was in
        async with FakeServer(greeting=b"") as silent:
            with pytest.raises(
                ConnectError, match=r"timed out after 0\.3 s waiting for the greeting"
            ):
                await qmp.connect(silent.path, timeout=0.3)
        # a server that greets with something else
        async with FakeServer(greeting=b'{"hello": 1}\r\n{"return": {}}\r\n') as odd:
            with pytest.raises(ConnectError, match="expected a greeting"):
                await qmp.connect(odd.path, timeout=2)
        assert qmp.runstate is Runstate.IDLE
        with pytest.raises(ValueError, match="expected unix:PATH"):
            await qmp.connect("http://x")

    run(main())


def test_out_of_band_execution_when_negotiated() -> None:
    async def main() -> None:
        async with FakeServer(held_back) as server:
            async with QMPClient(enable_oob=True) as qmp:
                await qmp.connect(server.path)
                assert qmp.oob_enabled
                assert await qmp.execute("x-oob", {"a": 1}, oob=True) == {"a": 1}
                assert server.requests[-1]["exec-oob"] == "x-oob"
            async with QMPClient() as plain:
                await plain.connect(server.path)
                with pytest.raises(ExecuteError, match="not negotiated"):
                    await plain.execute("x-oob", oob=True)

    run(main())


# -- events ----------------------------------------------------------------------------


async def events_on_request(
    server: FakeServer, conn: FakeConnection, request: dict[str, Any]
) -> None:
    """'emit' sends the events named in its arguments, then replies."""
    arguments = request.get("arguments", {})
    for index in range(arguments.get("count", 1)):
        conn.event(arguments["name"], {"index": index, **arguments.get("data", {})})
    conn.reply(request)


def test_event_streams_filter_and_stay_bounded() -> None:
    async def main() -> None:
        async with FakeServer(events_on_request) as server, QMPClient() as qmp:
            await qmp.connect(server.path)
            every = qmp.events(maxsize=5000)
            with qmp.events("STOP", maxsize=3) as stops:
                await qmp.execute("emit", {"name": "STOP", "count": 10})
                await qmp.execute("emit", {"name": "RESUME"})
                assert len(stops) == 3 and stops.dropped == 7
                # the newest are kept, the oldest dropped
                assert [(await stops.get()).data["index"] for _ in range(3)] == [7, 8, 9]
                with pytest.raises(TimeoutError):
                    await stops.get(timeout=0.05)
            assert len(every) == 11 and every.dropped == 0
            names = [event.name async for event in _take(every, 11)]
            assert names == ["STOP"] * 10 + ["RESUME"]

    run(main())


async def _take(stream: Any, count: int) -> Any:
    for _ in range(count):
        yield await stream.get()


def test_an_unread_flood_of_events_holds_no_more_than_maxsize() -> None:
    async def main() -> None:
        async with FakeServer(events_on_request) as server, QMPClient() as qmp:
            await qmp.connect(server.path)
            unread = qmp.events("FLOOD", maxsize=100)
            await qmp.execute("emit", {"name": "FLOOD", "count": 50_000, "data": {"x": "y" * 50}})
            assert len(unread) == 100
            assert unread.dropped == 49_900
            assert unread.get_nowait().data["index"] == 49_900  # type: ignore[union-attr]

    run(main())


def test_wait_event_with_a_match_and_a_timeout() -> None:
    async def main() -> None:
        async with FakeServer(events_on_request) as server, QMPClient() as qmp:
            await qmp.connect(server.path)
            waiter = asyncio.ensure_future(
                qmp.wait_event("JOB", match={"index": 2, "job": {"id": "j1"}}, timeout=5)
            )
            await asyncio.sleep(0)
            await qmp.execute("emit", {"name": "JOB", "count": 4, "data": {"job": {"id": "j1"}}})
            event = await bounded(waiter)
            assert event.data == {"index": 2, "job": {"id": "j1"}}
            assert event.timestamp == (1, 0)
            predicate = asyncio.ensure_future(
                qmp.wait_event("JOB", match=lambda e: e.data["index"] == 1, timeout=5)
            )
            await asyncio.sleep(0)
            await qmp.execute("emit", {"name": "JOB", "count": 3})
            assert (await bounded(predicate)).data["index"] == 1
            with pytest.raises(TimeoutError):
                await qmp.wait_event("NEVER", timeout=0.05)

    run(main())


def test_streams_end_on_disconnect_and_raise_when_the_connection_is_lost() -> None:
    async def main() -> None:
        async with FakeServer(events_on_request) as server:
            qmp = QMPClient()
            await qmp.connect(server.path)
            stream = qmp.events()
            await qmp.execute("emit", {"name": "ONE"})
            await qmp.disconnect()
            assert [event.name async for event in stream] == ["ONE"]
            await qmp.connect(server.path)
            lost = qmp.events()
            waiter = asyncio.ensure_future(qmp.wait_event("NEVER", timeout=5))
            await asyncio.sleep(0)
            server.connections[-1].hang_up()
            with pytest.raises(ConnectionLost):
                await bounded(lost.get())
            with pytest.raises(ConnectionLost):
                await bounded(waiter)

    run(main())


def test_a_dropped_stream_unsubscribes_itself() -> None:
    async def main() -> None:
        async with FakeServer(events_on_request) as server, QMPClient() as qmp:
            await qmp.connect(server.path)
            qmp.events("X")  # not kept
            assert len(qmp._streams) == 0
            kept = qmp.events("X")
            assert len(qmp._streams) == 1
            kept.close()
            assert len(qmp._streams) == 0

    run(main())


# -- reconnection ----------------------------------------------------------------------


def test_reconnect_with_backoff_renegotiates_and_streams_go_on() -> None:
    async def main() -> None:
        server = FakeServer(events_on_request)
        await server.start()
        policy = Reconnect(initial_delay=0.05, max_delay=0.2, factor=2.0)
        qmp = QMPClient("r", reconnect=policy)
        try:
            await qmp.connect(server.path)
            stream = qmp.events("AFTER")
            await server.stop_listening()  # the server goes away...
            await until(lambda: qmp.runstate is Runstate.RECONNECTING)
            with pytest.raises(ConnectionLost, match="reconnecting"):
                await qmp.execute("emit", {"name": "AFTER"})
            await asyncio.sleep(0.3)  # ...for a few attempts
            await server.start()  # ...and comes back on the same path
            await qmp.wait_connected(timeout=DEADLINE)
            assert qmp.reconnects == 1 and qmp.runstate is Runstate.RUNNING
            await qmp.execute("emit", {"name": "AFTER"})
            assert (await stream.get(timeout=5)).name == "AFTER"
        finally:
            await qmp.disconnect()
            await server.close()
        assert qmp.runstate is Runstate.IDLE

    run(main())


def test_reconnect_gives_up_after_max_attempts() -> None:
    async def main() -> None:
        server = FakeServer()
        await server.start()
        qmp = QMPClient(reconnect=Reconnect(initial_delay=0.01, max_attempts=3))
        try:
            await qmp.connect(server.path)
            stream = qmp.events()
            await server.stop_listening()
            with pytest.raises(ConnectionLost, match="gave up reconnecting after 3 attempts"):
                await bounded(stream.get())
            assert qmp.runstate is Runstate.IDLE
        finally:
            await qmp.disconnect()
            await server.close()

    run(main())


def test_reconnect_delays() -> None:
    assert list(Reconnect(0.1, 1.0, 3.0, 4).delays()) == pytest.approx([0.1, 0.3, 0.9, 1.0])
    forever = Reconnect(0.1, 5.0).delays()
    assert [next(forever) for _ in range(10)][-3:] == [5.0, 5.0, 5.0]


# -- TLS -------------------------------------------------------------------------------


def test_tls_with_a_checked_certificate(tmp_path: Any) -> None:
    authority = trustme.CA()
    certificate = authority.issue_cert("qmp.test")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')
        while line := await reader.readline():
            request = json.loads(line)
            writer.write(
                json.dumps({"return": {"tls": True}, "id": request["id"]}).encode() + b"\n"
            )
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        try:
            async with QMPClient() as qmp:
                await qmp.connect(
                    ("127.0.0.1", port), ssl=client_context, server_hostname="qmp.test"
                )
                assert await qmp.execute("query-tls") == {"tls": True}
            # a client that does not trust the server's authority does not connect
            with pytest.raises(ConnectError) as raised:
                await QMPClient().connect(
                    f"tcp:127.0.0.1:{port}",
                    ssl=ssl.create_default_context(),
                    server_hostname="qmp.test",
                    timeout=5,
                )
            assert isinstance(raised.value.__cause__, ssl.SSLError)
        finally:
            server.close()
            await server.wait_closed()

    run(main())
