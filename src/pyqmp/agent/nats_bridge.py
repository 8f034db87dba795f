"""The agent on NATS: its VMs' events out, commands and ``list`` requests in.

Subjects are :mod:`.subjects`'.  Events travel through a bounded :class:`~.outbox.Outbox`
(VM monitors never wait on NATS); one publisher drains it while connected.  Each
``execute`` request runs in a task of its own, so a frozen VM holds up only its own
requester, and always gets a reply: the QMP reply, or an error naming the deadline that
passed; at most ``max_requests`` run at once and past that the reply is an error at once.
Requests are parsed strictly (unknown members are refused) and answered with what was
expected.  The connection is the agent's to keep: lost or refused, it is made again with
backoff and the subscriptions are renewed; NATS's own per-subscription queues are bounded
(``pending_msgs_limit``/``pending_bytes_limit``: a flood of requests is dropped by the
client library as a slow consumer, never buffered without bound).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Protocol

import msgspec
import nats
import nats.errors
import orjson
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from ..client import Event, Reconnect
from . import subjects
from .errors import SubjectError
from .monitor import DEFAULT_RECONNECT, Backoff, error_reply
from .outbox import Outbox

log = logging.getLogger("pyqmp.agent.nats")

MAX_REQUESTS: Final = 256
MAX_REQUEST_TIMEOUT: Final = 300.0
SUBSCRIPTION_MESSAGES: Final = 1024
SUBSCRIPTION_BYTES: Final = 8 << 20
PUBLISH_BUFFER: Final = 2 << 20  # nats-py's own pending buffer
# nats-py tries each server again and again inside connect() unless told: one attempt
# (it counts the first try as none, so two quick tries) and no reconnection of its own.
ONE_ATTEMPT: Final[dict[str, Any]] = {
    "allow_reconnect": False,
    "max_reconnect_attempts": 1,
    "reconnect_time_wait": 0,
}
_EXPECTED: Final = (
    'expected {"execute": NAME, "arguments": {...}} (arguments and "timeout" in seconds '
    "are optional)"
)


class ExecuteRequest(msgspec.Struct, forbid_unknown_fields=True):
    execute: str
    arguments: dict[str, Any] | None = None
    timeout: float | None = None


class Fleet(Protocol):
    """What the bridge needs of the agent."""

    host: str
    command_timeout: float

    def list_reply(self) -> dict[str, Any]: ...

    def execute(
        self, vm: str, command: str, arguments: Mapping[str, object] | None, deadline: float
    ) -> Awaitable[dict[str, Any]]: ...


def event_message(host: str, vm: str, event: Event) -> bytes:
    """An event as the bridge publishes it."""
    stamp = event.timestamp
    body = {
        "event": event.name,
        "data": event.data,
        "timestamp": None
        if stamp is None
        else {"seconds": stamp.seconds, "microseconds": stamp.microseconds},
        "vm": vm,
        "host": host,
    }
    return dumps(body)


def dumps(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # an integer past 64 bits, as QMP's JSON allows
        return json.dumps(value, separators=(",", ":")).encode()


class NatsBridge:
    """Connects the agent to NATS until :meth:`run` is cancelled."""

    def __init__(
        self,
        servers: list[str],
        fleet: Fleet,
        outbox: Outbox | None = None,
        reconnect: Reconnect = DEFAULT_RECONNECT,
        max_requests: int = MAX_REQUESTS,
    ) -> None:
        self.servers = servers
        self.fleet = fleet
        self.outbox = outbox if outbox is not None else Outbox()
        self.reconnect = reconnect
        self.max_requests = max_requests
        self.connected = False
        self.connections = 0
        self.published = 0
        self.failed_publishes = 0
        self.refused_requests = 0
        self._requests: set[asyncio.Task[None]] = set()
        self._host = fleet.host
        self._max_payload = 1 << 20  # NATS's default; the server's own once connected

    # -- the sink VM monitors publish to (never waits) ---------------------------------

    def publish_event(self, vm: str, event: Event) -> None:
        try:
            subject = subjects.event_subject(self._host, vm, event.name)
        except SubjectError:  # an event name no subject can carry: counted, not sent
            self.outbox.dropped += 1
            return
        self.outbox.put(subject, event_message(self._host, vm, event))

    @property
    def dropped(self) -> int:
        return self.outbox.dropped + self.failed_publishes

    @property
    def reconnects(self) -> int:
        return max(self.connections - 1, 0)

    # -- the connection ------------------------------------------------------------------

    async def run(self) -> None:
        backoff = Backoff(self.reconnect)
        while True:
            closed = asyncio.Event()
            connection = NatsClient()
            try:
                await connection.connect(
                    servers=self.servers,
                    name=f"pyqmp-agent {self._host}",
                    **ONE_ATTEMPT,  # reconnection is ours, with backoff
                    connect_timeout=5,
                    pending_size=PUBLISH_BUFFER,
                    error_cb=self._nats_error,
                    closed_cb=_setter(closed),
                    disconnected_cb=_setter(closed),
                )
            except (OSError, TimeoutError, nats.errors.Error) as error:
                log.info("NATS %s: cannot connect: %s", ",".join(self.servers), error or "")
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            self.connections += 1
            log.info("NATS: connected to %s", _url(connection))
            try:
                await self._serve(connection, closed)
            finally:
                self.connected = False
                if not connection.is_closed:
                    await connection.close()
            log.info("NATS: connection lost; reconnecting")
            await asyncio.sleep(backoff.next_delay())

    async def _serve(self, connection: NatsClient, closed: asyncio.Event) -> None:
        for subject, callback in (
            (subjects.execute_wildcard(self._host), self._on_execute),
            (subjects.list_subject(self._host), self._on_list),
            (subjects.FLEET_LIST_SUBJECT, self._on_list),
        ):
            await connection.subscribe(
                subject,
                cb=callback,
                pending_msgs_limit=SUBSCRIPTION_MESSAGES,
                pending_bytes_limit=SUBSCRIPTION_BYTES,
            )
        await connection.flush()
        self._max_payload = connection.max_payload
        self.connected = True
        publisher = asyncio.create_task(self._publish(connection))
        try:
            await closed.wait()
        finally:
            publisher.cancel()
            await asyncio.gather(publisher, return_exceptions=True)

    async def _publish(self, connection: NatsClient) -> None:
        outbox = self.outbox
        while True:
            await outbox.wait()
            message = outbox.take()
            if message is None:
                continue
            try:
                await connection.publish(message.subject, message.payload)
            except nats.errors.MaxPayloadError:
                self.failed_publishes += 1
                continue
            except (OSError, nats.errors.Error):
                outbox.put_back(message)  # sent after the reconnection
                return
            self.published += 1

    async def _nats_error(self, error: Exception) -> None:
        if isinstance(error, nats.errors.SlowConsumerError):
            self.refused_requests += 1  # dropped by the library: its queue is full
        log.debug("NATS: %s", error)

    # -- requests ------------------------------------------------------------------------

    async def _on_list(self, msg: Msg) -> None:
        if not msg.reply:
            return
        reply = self.fleet.list_reply()
        payload = orjson.dumps(reply)
        limit = self._max_payload
        while len(payload) > limit and reply["vms"]:
            # Keep the reply deliverable: fewer VMs, and say so.
            reply["vms"] = reply["vms"][: len(reply["vms"]) // 2]
            reply["truncated"] = True
            payload = orjson.dumps(reply)
        await _respond(msg, payload)

    async def _on_execute(self, msg: Msg) -> None:
        if not msg.reply:
            return  # a publish, not a request: there is nobody to answer
        if len(self._requests) >= self.max_requests:
            self.refused_requests += 1
            await self._respond_json(
                msg,
                error_reply(
                    f"{self._host}: {len(self._requests)} commands are running; try again later"
                ),
            )
            return
        task = asyncio.create_task(self._execute(msg))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _execute(self, msg: Msg) -> None:
        try:
            _, vm = subjects.parse_execute_subject(msg.subject)
        except SubjectError as error:
            await self._respond_json(msg, error_reply(str(error)))
            return
        try:
            request = msgspec.json.decode(msg.data, type=ExecuteRequest)
        except msgspec.DecodeError as error:  # ValidationError is one too
            await self._respond_json(msg, error_reply(f"{msg.subject}: {error}; {_EXPECTED}"))
            return
        timeout = self.fleet.command_timeout if request.timeout is None else request.timeout
        if not 0 < timeout <= MAX_REQUEST_TIMEOUT:
            await self._respond_json(
                msg,
                error_reply(
                    f"{msg.subject}: timeout {timeout:g} s: expected 0 < timeout <= "
                    f"{MAX_REQUEST_TIMEOUT:g}"
                ),
            )
            return
        reply = await self.fleet.execute(vm, request.execute, request.arguments, timeout)
        await self._respond_json(msg, reply)

    async def _respond_json(self, msg: Msg, reply: Mapping[str, Any]) -> None:
        payload = dumps(reply)
        if len(payload) > self._max_payload:
            payload = dumps(
                error_reply(
                    f"{msg.subject}: the reply is {len(payload)} bytes, more than this NATS "
                    f"server carries ({self._max_payload})"
                )
            )
        await _respond(msg, payload)


def _url(connection: NatsClient) -> str:
    url = connection.connected_url
    return url.geturl() if url is not None else "?"


def _setter(event: asyncio.Event) -> Callable[[], Awaitable[None]]:
    async def callback() -> None:
        event.set()

    return callback


async def _respond(msg: Msg, payload: bytes) -> None:
    try:
        await msg.respond(payload)
    except (OSError, nats.errors.Error) as error:  # NATS went away meanwhile
        log.info("NATS: cannot reply on %s: %s", msg.subject, error)
