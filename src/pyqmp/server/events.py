"""Events: timestamped, encoded once, delivered to every negotiated monitor.

Some events are rate-limited as QEMU limits them (``BALLOON_CHANGE`` and the others
QEMU throttles, at most one a second): the first goes out at once, later ones within
the period replace each other, and the last is delivered when the period ends — so
the last state always reaches clients.  A monitor that does not read its events does
not make the server buffer without bound: see :class:`EventSink`.  A compat policy
(:mod:`.compat`) filters an event's data, or drops the event, before it is encoded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from msgspec import to_builtins

from ..protocol import EventTimestamp
from ..protocol import encode_event as protocol_encode_event
from .compat import HIDDEN_EVENT, CompatRules

# QEMU's throttled events (monitor/monitor.c), period in seconds.  Some are throttled per
# instance: per the data member named in THROTTLE_KEYS.
QEMU_THROTTLED_EVENTS: dict[str, float] = {
    "RTC_CHANGE": 1.0,
    "WATCHDOG": 1.0,
    "BALLOON_CHANGE": 1.0,
    "QUORUM_REPORT_BAD": 1.0,
    "QUORUM_FAILURE": 1.0,
    "VSERPORT_CHANGE": 1.0,
    "MEMORY_DEVICE_SIZE_CHANGE": 1.0,
}


THROTTLE_KEYS: dict[str, str] = {
    "VSERPORT_CHANGE": "id",
    "QUORUM_REPORT_BAD": "node-name",
    "QUORUM_FAILURE": "node-name",
    "MEMORY_DEVICE_SIZE_CHANGE": "qom-path",
}


class EventSink(Protocol):
    """A monitor, as the event bus sees it."""

    def send_event(self, message: bytes) -> None:
        """Queue ``message`` for the client, or drop it if the client is not reading."""


def encode_event(name: str, data: Any, now: float | None = None) -> bytes:
    """One event message, as QEMU writes it (the protocol engine's encoding)."""
    stamp = EventTimestamp.from_seconds(time.time() if now is None else now)
    return protocol_encode_event(name, None if data is None else to_builtins(data), stamp)


class _Throttle:
    __slots__ = ("pending", "timer")

    def __init__(self) -> None:
        self.pending: Any = None
        self.timer: Any = None


class EventBus:
    """Delivers events to the sinks registered with it, throttling as QEMU does."""

    def __init__(
        self,
        call_later: Callable[[float, Callable[[], None]], Any],
        throttled: dict[str, float] | None = None,
        compat: CompatRules | None = None,
    ) -> None:
        self._call_later = call_later
        self._compat = compat
        self._sinks: list[EventSink] = []
        self._periods = QEMU_THROTTLED_EVENTS if throttled is None else throttled
        self._throttles: dict[str, _Throttle] = {}

    def add(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def remove(self, sink: EventSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def emit(self, name: str, data: dict[str, Any] | None) -> None:
        """Send event ``name`` now, or when its throttling period allows."""
        period = self._periods.get(name)
        if period is None:
            self._deliver(name, data)
            return
        key = name
        member = THROTTLE_KEYS.get(name)
        if member is not None and data is not None:
            key = f"{name}\0{data.get(member)}"
        throttle = self._throttles.get(key)
        if throttle is None:
            throttle = self._throttles[key] = _Throttle()
        if throttle.timer is None:
            self._deliver(name, data)
            throttle.timer = self._call_later(period, lambda: self._period_over(key, name, period))
        else:
            # held back, but stamped now: QEMU's timestamp says when it happened
            throttle.pending = (data, time.time())

    def _period_over(self, key: str, name: str, period: float) -> None:
        throttle = self._throttles[key]
        if throttle.pending is None:
            del self._throttles[key]  # idle: forget it (keys may be per instance)
            return
        data, stamp = throttle.pending
        throttle.pending = None
        self._deliver(name, data, stamp)
        throttle.timer = self._call_later(period, lambda: self._period_over(key, name, period))

    def _deliver(self, name: str, data: dict[str, Any] | None, stamp: float | None = None) -> None:
        if self._compat is not None:
            data = self._compat.filter_event(name, data)
            if data is HIDDEN_EVENT:
                return
        message = encode_event(name, data, stamp)
        for sink in list(self._sinks):
            sink.send_event(message)
