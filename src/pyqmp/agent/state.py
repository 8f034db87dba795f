"""What the agent knows of one VM: the cache that metrics and ``list`` answer from.

A :class:`VMState` is written only by its VM's monitor task (on the event loop) and read
by the metrics renderer and the NATS ``list`` handler, which never wait on the VM: that is
the point of the cache.  Everything in it came from a server that may be hostile, so it
is checked on the way in and bounded: numbers must be non-negative integers that fit 64
bits, guest statistics are kept only under names shaped like QEMU's (``stat-...``, at most
:data:`MAX_STATS`), and events are counted under at most :data:`MAX_EVENT_NAMES` names
(the rest under :data:`OTHER_EVENTS`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Final

MAX_STATS: Final = 32
MAX_EVENT_NAMES: Final = 64
OTHER_EVENTS: Final = "other"
U64_MAX: Final = (1 << 64) - 1

_STAT_NAME = re.compile(r"stat-[a-z0-9]+(?:-[a-z0-9]+){0,7}")
_EVENT_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_STATUS_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")

# Where a VM's monitor is in its life, as ``list`` and the logs say it.
CONNECTING: Final = "connecting"
UP: Final = "up"
UNRESPONSIVE: Final = "unresponsive"  # connected, but no answer within the deadline
DISCONNECTED: Final = "disconnected"  # the connection failed or was lost; retrying
GONE: Final = "gone"  # nothing listens at the address (a killed or stopped VM)


def as_count(value: object) -> int | None:
    """``value`` if it is an integer in 0..2**64-1, else None (bool is not a number)."""
    if type(value) is int and 0 <= value <= U64_MAX:
        return value
    return None


class VMState:
    """One VM as the agent last saw it."""

    def __init__(self, name: str, address: str, source: str) -> None:
        self.name = name
        self.address = address
        self.source = source  # "qmp" (named on the command line) or "watch"
        self.monitor: str = CONNECTING
        self.error: str | None = None
        self.status: str | None = None
        self.running: bool | None = None
        self.balloon_actual: int | None = None
        self.balloon_target: int | None = None
        self.stats: dict[str, int] = {}
        self.stats_last_update: int | None = None
        self.stats_source: str | None = None
        self.last_answer: float | None = None
        self.events: dict[str, int] = {}
        self.reconnects = 0
        self.dropped_events = 0

    @property
    def up(self) -> bool:
        return self.monitor == UP

    # -- from the monitor ----------------------------------------------------------------

    def answered(self) -> None:
        self.monitor = UP
        self.error = None
        self.last_answer = time.time()

    def not_up(self, monitor: str, error: str) -> None:
        self.monitor = monitor
        self.error = error
        if monitor == GONE:  # nothing listens: what it said of itself is history
            self.status = self.running = None
            self.forget_guest()

    def forget_guest(self) -> None:
        """A new connection: what the old one told about the VM may be stale."""
        self.balloon_actual = self.balloon_target = None
        self.stats = {}
        self.stats_last_update = None
        self.stats_source = None

    def set_status(self, info: object) -> None:
        """From ``query-status``'s return."""
        if not isinstance(info, Mapping):
            return
        status, running = info.get("status"), info.get("running")
        if isinstance(status, str) and _STATUS_NAME.fullmatch(status):
            self.status = status
        if type(running) is bool:
            self.running = running

    def set_balloon(self, actual: object, target: object = None) -> None:
        count = as_count(actual)
        if count is not None:
            self.balloon_actual = count
        count = as_count(target)
        if count is not None:
            self.balloon_target = count

    def set_stats(self, stats: object, last_update: object) -> None:
        """Guest statistics, as QEMU's ``guest-stats`` or pyqmp's ``query-balloon-stats``
        give them; QEMU's "not reported" (2**64-1) and last-update 0 mean unknown."""
        if not isinstance(stats, Mapping):
            return
        kept: dict[str, int] = {}
        for name, value in stats.items():
            count = as_count(value)
            if count is None or count == U64_MAX or not isinstance(name, str):
                continue
            if _STAT_NAME.fullmatch(name) and len(kept) < MAX_STATS:
                kept[name] = count
        self.stats = kept
        stamp = as_count(last_update)
        self.stats_last_update = stamp if stamp else None

    def count_event(self, name: str) -> None:
        events = self.events
        if name in events:
            events[name] += 1
        elif len(events) < MAX_EVENT_NAMES and _EVENT_NAME.fullmatch(name):
            events[name] = 1
        else:
            events[OTHER_EVENTS] = events.get(OTHER_EVENTS, 0) + 1

    def apply_event(self, name: str, data: Mapping[str, object]) -> bool:
        """What an event says about the VM, at once; True if its run state changed (so
        the monitor should ask for the exact status)."""
        if name == "STOP":
            self.running = False
            if self.status == "running":
                self.status = "paused"
            return True
        if name == "RESUME":
            self.running = True
            self.status = "running"
            return True
        if name in ("RESET", "SHUTDOWN"):
            return True
        if name == "BALLOON_CHANGE":
            self.set_balloon(data.get("actual"))
        elif name == "BALLOON_STATS_UPDATE":
            self.set_stats(data.get("stats"), data.get("last-update"))
        return False

    def summary(self) -> dict[str, object]:
        """The VM as ``list`` answers it."""
        return {
            "vm": self.name,
            "monitor": self.monitor,
            "status": self.status,
            "running": self.running,
            "address": self.address,
            "error": self.error,
            "last-answer": self.last_answer,
        }
