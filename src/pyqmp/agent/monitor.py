"""One VM's monitor, watched for as long as the agent runs: connect, discover, poll, listen.

Its one rule: nothing a VM does can stall the agent or make it grow.  Every command has a
deadline (:mod:`.calls`; at most a few are ever unanswered per VM), so a frozen QEMU turns
into ``unresponsive`` within one deadline and its cached facts stay readable; events go to
a bounded stream of the client (the oldest dropped and counted when the agent falls
behind) and on to the sink without waiting; a lost or refused connection is retried with
backoff, and a monitor where nothing listens is ``gone``.  While a VM is unresponsive no
new poll is sent, so its socket buffer never fills with questions: the first late answer
brings it back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from ..client import (
    Address,
    ConnectError,
    ConnectionLost,
    Event,
    EventStream,
    ExecuteError,
    QMPClient,
    Reconnect,
)
from ..protocol.errors import ErrorClass
from . import discovery
from .calls import MonitorCalls, MonitorNotAnswering
from .discovery import Capabilities
from .state import DISCONNECTED, GONE, UNRESPONSIVE, VMState

log = logging.getLogger("pyqmp.agent")

# A connection refused or a socket file gone: nothing listens, the VM is not there.
_NOTHING_LISTENS = frozenset((errno.ECONNREFUSED, errno.ENOENT, errno.ENOTDIR))


# Reconnection, to a monitor or to NATS: soon at first, then at most every 10 s.
DEFAULT_RECONNECT = Reconnect(initial_delay=0.2, max_delay=10.0, factor=2.0)


class MonitorSettings(NamedTuple):
    """How the agent watches each monitor."""

    interval: float = 5.0  # seconds between polls of a VM
    deadline: float = 2.0  # a monitor that has not answered by then is unresponsive
    connect_timeout: float = 5.0
    max_unanswered: int = 8
    event_queue: int = 1000  # events held per VM before the oldest is dropped
    polling_interval: int = 10  # QEMU's guest-stats-polling-interval, where the agent sets it
    reconnect: Reconnect = DEFAULT_RECONNECT


class EventSink(Protocol):
    """Where a VM's events go (the NATS bridge); must return at once."""

    def publish_event(self, vm: str, event: Event) -> None: ...


class Backoff:
    """Delays between connection attempts: growing by the policy's factor up to its
    maximum, with a little jitter so that many VMs lost at once do not retry in step."""

    def __init__(self, policy: Reconnect) -> None:
        self.policy = policy
        self._next = policy.initial_delay

    def reset(self) -> None:
        self._next = self.policy.initial_delay

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(delay * self.policy.factor, self.policy.max_delay)
        return delay * random.uniform(0.9, 1.1)


def error_reply(desc: str, error_class: str = ErrorClass.GENERIC_ERROR) -> dict[str, Any]:
    return {"error": {"class": error_class, "desc": desc}}


class VMMonitor:
    """Keeps one VM's :class:`VMState` current; :meth:`run` until cancelled."""

    def __init__(
        self, state: VMState, address: Address, settings: MonitorSettings, sink: EventSink | None
    ) -> None:
        self.state = state
        self.address = address
        self.settings = settings
        self.sink = sink
        self.where = f"vm {state.name} ({address})"
        self._calls: MonitorCalls | None = None
        self._wake = asyncio.Event()
        self._dropped_before = 0

    async def run(self) -> None:
        backoff = Backoff(self.settings.reconnect)
        sessions = 0
        while True:
            client = QMPClient(self.state.name)
            # Subscribed before connecting: a server may send events right after the
            # negotiation's reply, before this task runs again.
            stream = client.events(maxsize=self.settings.event_queue)
            try:
                await client.connect(self.address, timeout=self.settings.connect_timeout)
            except ConnectError as error:
                stream.close()
                self._connect_failed(error)
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            if sessions:
                self.state.reconnects += 1
            sessions += 1
            log.info("%s: connected", self.where)
            try:
                await self._session(client, stream)
            except ConnectionLost as error:
                self.state.not_up(DISCONNECTED, str(error))
                log.info("%s: %s", self.where, error)
            except Exception as error:  # a bug here must not end this VM's watch for good
                log.exception("%s: internal error; reconnecting", self.where)
                self.state.not_up(DISCONNECTED, f"internal error: {error!r}")
            finally:
                await client.disconnect()
            await asyncio.sleep(backoff.next_delay())

    def _connect_failed(self, error: ConnectError) -> None:
        cause = error.__cause__
        if isinstance(cause, OSError) and cause.errno in _NOTHING_LISTENS:
            monitor = GONE
        elif isinstance(cause, TimeoutError):
            monitor = UNRESPONSIVE  # accepted, but no greeting: a frozen process
        else:
            monitor = DISCONNECTED
        if self.state.monitor != monitor:
            log.info("%s: %s (%s)", self.where, monitor, error)
        self.state.not_up(monitor, str(error))

    async def _session(self, client: QMPClient, stream: EventStream) -> None:
        self.state.forget_guest()
        calls = MonitorCalls(client, self.where, self.settings.max_unanswered, self._idle)
        self._calls = calls
        tasks = [
            asyncio.create_task(self._read_events(stream)),
            asyncio.create_task(self._poll_forever(calls)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self._calls = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            calls.cancel()
            self._dropped_before += stream.dropped
            self.state.dropped_events = self._dropped_before  # drops after the last read
            stream.close()

    def _idle(self) -> None:
        if not self.state.up:  # the late answers of a frozen VM are in: poll it now
            self._wake.set()

    # -- events ----------------------------------------------------------------------------

    async def _read_events(self, stream: EventStream) -> None:
        state, sink = self.state, self.sink
        async for event in stream:
            state.count_event(event.name)
            state.apply_event(event.name, event.data)
            state.dropped_events = self._dropped_before + stream.dropped
            if sink is not None:
                sink.publish_event(state.name, event)
        raise ConnectionLost(f"{self.where}: the event stream ended")

    # -- polling ---------------------------------------------------------------------------

    async def _poll_forever(self, calls: MonitorCalls) -> None:
        settings, state = self.settings, self.state
        capabilities: Capabilities | None = None
        # Many monitors start at once: spread their first polls a little.
        await asyncio.sleep(random.uniform(0, min(settings.interval, 1.0) / 4))
        while True:
            if calls.outstanding == 0:
                deadline = asyncio.get_running_loop().time() + settings.deadline
                try:
                    if capabilities is None:
                        capabilities = await discovery.discover(
                            self._caller(calls, deadline), settings.polling_interval
                        )
                        state.stats_source = capabilities.stats_source
                    await self._poll(calls, capabilities, deadline)
                    state.answered()
                except MonitorNotAnswering as error:
                    if state.up:
                        log.info("%s: unresponsive (%s)", self.where, error)
                    state.not_up(UNRESPONSIVE, str(error))
                except ExecuteError as error:  # it answered, if not what we hoped
                    log.debug("%s: %s", self.where, error)
                    state.answered()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settings.interval):
                    await self._wake.wait()

    def _caller(self, calls: MonitorCalls, deadline: float) -> discovery.Call:
        loop = asyncio.get_running_loop()

        async def call(command: str, arguments: Mapping[str, object] | None) -> Any:
            return await calls.call(command, arguments, max(deadline - loop.time(), 0.001))

        return call

    async def _poll(self, calls: MonitorCalls, capabilities: Capabilities, deadline: float) -> None:
        call = self._caller(calls, deadline)
        state = self.state
        state.set_status(await call("query-status", None))
        try:
            if capabilities.stats_source == discovery.BALLOON_STATS:
                info = await call(discovery.BALLOON_STATS, None)
                if isinstance(info, dict):
                    state.set_balloon(info.get("actual"), info.get("target"))
                    state.set_stats(info.get("stats"), info.get("last-update"))
                    if info.get("request-outstanding") is False:
                        await call("balloon-stats-refresh", None)  # returns at once
            elif "query-balloon" in capabilities.commands:
                info = await call("query-balloon", None)
                if isinstance(info, dict):
                    state.set_balloon(info.get("actual"))
                if capabilities.balloon_path is not None:
                    guest = await call(
                        "qom-get",
                        {"path": capabilities.balloon_path, "property": discovery.GUEST_STATS},
                    )
                    if isinstance(guest, dict):
                        state.set_stats(guest.get("stats"), guest.get("last-update"))
        except ExecuteError as error:  # no balloon device (DeviceNotActive), or it went
            log.debug("%s: balloon: %s", self.where, error)
            state.balloon_actual = state.balloon_target = None
            state.stats = {}

    # -- commands from outside -------------------------------------------------------------

    async def execute(
        self, command: str, arguments: Mapping[str, object] | None, deadline: float
    ) -> dict[str, Any]:
        """The QMP reply to ``command``, or an error reply saying why there is none."""
        calls = self._calls
        if calls is None:
            reason = f": {self.state.error}" if self.state.error else ""
            return error_reply(f"{self.where}: not connected ({self.state.monitor}){reason}")
        try:
            value = await calls.call(command, arguments, deadline)
        except ExecuteError as error:
            return error_reply(error.desc, error.error_class)
        except (MonitorNotAnswering, ConnectionLost) as error:
            return error_reply(str(error))
        return {"return": value}
