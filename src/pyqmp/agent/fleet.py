"""The fleet seen from NATS: the client side of :mod:`.nats_bridge`, for ``pyqmp fleet``.

Any machine that reaches NATS can list every agent's VMs (a scatter-gather request on
``qmp.list``: every agent answers, replies are collected for a short window), run a
command on one VM (request/reply on its ``execute`` subject, which the agent answers
with the QMP reply or an error naming its deadline) and follow events by host, VM and
event name.  Everything that comes back is checked before use: a reply that is not what
an agent sends is reported, never trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Final

import msgspec
import nats.errors
from nats.aio.client import Client as NatsClient

from . import subjects
from .errors import AgentError, SubjectError
from .nats_bridge import ONE_ATTEMPT

#: How long ``ls`` collects replies from agents by default.
DEFAULT_GATHER: Final = 1.0
#: What the fleet waits beyond the agent's own deadline for the agent's reply.
REPLY_MARGIN: Final = 2.0
MAX_REPLIES: Final = 10_000


class FleetError(AgentError):
    """The fleet could not be asked, or did not answer as an agent would."""


class VMSummary(msgspec.Struct, frozen=True):
    vm: str
    monitor: str
    status: str | None = None
    running: bool | None = None
    address: str | None = None
    error: str | None = None
    last_answer: float | None = msgspec.field(default=None, name="last-answer")


class HostList(msgspec.Struct, frozen=True):
    host: str
    vms: list[VMSummary]
    truncated: bool = False


class EventMessage(msgspec.Struct, frozen=True):
    event: str
    vm: str
    host: str
    data: dict[str, Any] = {}
    timestamp: dict[str, int] | None = None


async def connect(servers: list[str], timeout: float) -> NatsClient:
    client = NatsClient()
    try:
        await client.connect(
            servers=servers,
            name="pyqmp fleet",
            connect_timeout=max(1, round(timeout)),
            error_cb=_quiet,
            **ONE_ATTEMPT,
        )
    except (OSError, TimeoutError, nats.errors.Error) as error:
        raise FleetError(f"cannot connect to NATS {','.join(servers)}: {error}") from None
    return client


async def _quiet(error: Exception) -> None:
    """nats-py reports connection errors here; connect() raises them anyway."""


async def list_hosts(
    client: NatsClient, host: str | None = None, gather: float = DEFAULT_GATHER
) -> list[HostList]:
    """The VMs of one host, or of every agent that answers within ``gather`` seconds."""
    if host is not None:
        try:
            reply = await client.request(subjects.list_subject(host), b"", timeout=gather)
        except nats.errors.NoRespondersError:
            raise FleetError(f"no agent serves host '{host}'") from None
        except nats.errors.TimeoutError:
            raise FleetError(f"host '{host}' did not answer within {gather:g} s") from None
        return [_decode_list(reply.data)]
    inbox = client.new_inbox()
    replies: list[bytes] = []
    subscription = await client.subscribe(inbox, max_msgs=MAX_REPLIES)
    try:
        await client.publish(subjects.FLEET_LIST_SUBJECT, b"", reply=inbox)
        loop = asyncio.get_running_loop()
        end = loop.time() + gather
        while (remaining := end - loop.time()) > 0 and len(replies) < MAX_REPLIES:
            try:
                message = await subscription.next_msg(timeout=remaining)
            except nats.errors.TimeoutError:
                break
            replies.append(message.data)
    finally:
        await subscription.unsubscribe()
    hosts = [_decode_list(data) for data in replies]
    return sorted(hosts, key=lambda listed: listed.host)


def _decode_list(data: bytes) -> HostList:
    try:
        return msgspec.json.decode(data, type=HostList)
    except msgspec.DecodeError as error:
        raise FleetError(f"a list reply that no agent would send: {error}") from None


async def find_vm(client: NatsClient, vm: str, gather: float = DEFAULT_GATHER) -> str:
    """The host of the only VM called ``vm``."""
    hosts = [
        listed.host
        for listed in await list_hosts(client, gather=gather)
        if any(summary.vm == vm for summary in listed.vms)
    ]
    if not hosts:
        raise FleetError(f"no agent has a VM called '{vm}'")
    if len(hosts) > 1:
        raise FleetError(f"VM '{vm}' is on hosts {', '.join(hosts)}: say which, as HOST/VM")
    return hosts[0]


async def execute(
    client: NatsClient,
    host: str,
    vm: str,
    command: str,
    arguments: Mapping[str, object] | None,
    timeout: float,
) -> dict[str, Any]:
    """The QMP reply (``{"return": ...}`` or ``{"error": {...}}``) of ``command`` on
    ``host``'s VM ``vm``; the agent waits ``timeout`` seconds for the VM."""
    request: dict[str, Any] = {"execute": command, "timeout": timeout}
    if arguments is not None:
        request["arguments"] = arguments
    try:
        reply = await client.request(
            subjects.execute_subject(host, vm),
            msgspec.json.encode(request),
            timeout=timeout + REPLY_MARGIN,
        )
    except nats.errors.NoRespondersError:
        raise FleetError(f"no agent serves host '{host}'") from None
    except nats.errors.TimeoutError:
        raise FleetError(
            f"host '{host}' did not answer within {timeout + REPLY_MARGIN:g} s"
        ) from None
    try:
        answer = msgspec.json.decode(reply.data)
    except msgspec.DecodeError as error:
        raise FleetError(f"host '{host}' sent a reply that is not JSON: {error}") from None
    if not isinstance(answer, dict) or not ("return" in answer or "error" in answer):
        raise FleetError(f"host '{host}' sent a reply that is not a QMP reply: {answer!r:.200}")
    return answer


class EventFilter:
    """Which events ``pyqmp fleet events`` shows: shell-style patterns on host, VM and
    event name.  An exact name narrows the NATS subscription; a pattern subscribes to
    every name there and filters here."""

    def __init__(self, host: str = "*", vm: str = "*", event: str = "*") -> None:
        self.patterns = (host, vm, event)

    def subject(self) -> str:
        exact = [None if _is_pattern(part) else part for part in self.patterns]
        return subjects.events_filter(*exact)

    def matches(self, host: str, vm: str, event: str) -> bool:
        return all(
            fnmatch.fnmatchcase(name, pattern)
            for name, pattern in zip((host, vm, event), self.patterns, strict=True)
        )


def _is_pattern(text: str) -> bool:
    return any(char in text for char in "*?[")


async def events(
    client: NatsClient, selection: EventFilter, queue: int = 10_000
) -> AsyncGenerator[EventMessage, None]:
    """Events as agents publish them, forever (the caller stops iterating).  At most
    ``queue`` wait unread; past that NATS drops them (as a slow consumer)."""
    subscription = await client.subscribe(
        selection.subject(), pending_msgs_limit=queue, pending_bytes_limit=64 << 20
    )
    try:
        async for message in subscription.messages:
            try:
                name = subjects.parse_event_subject(message.subject)
                event = msgspec.json.decode(message.data, type=EventMessage)
            except (SubjectError, msgspec.DecodeError):
                continue  # not an agent's event: nothing to show
            if selection.matches(*name):
                yield event
    finally:
        with contextlib.suppress(nats.errors.ConnectionClosedError):
            await subscription.unsubscribe()
