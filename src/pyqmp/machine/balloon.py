"""The host side of the virtio-balloon device.

What the host knows of the balloon — the target, the guest's last reported ``actual``,
the last statistics and when they came — is all a query ever reads: no command waits
on the guest.  Asking the guest (a new target, a stats request) goes through
``GuestRequests`` and returns at once; answers arrive later through ``report_*``.
Until a guest driver reports, ``actual`` is the whole RAM and every statistic is unset
(2^64-1 in QEMU's ``guest-stats``), as in QEMU before the guest loads its driver.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from ..channel import PAGE_SIZE, STAT_QEMU_NAMES, StatTag
from ..protocol.errors import parameter_out_of_range, parameter_type_invalid
from ..server.errors import CommandError
from .qom import Property, QomObject

PAGE_SHIFT = PAGE_SIZE.bit_length() - 1  # virtio-balloon counts 4 KiB pages
UNSET_STAT = 2**64 - 1
MAX_POLL_INTERVAL = 2**32 - 1
BACKEND_TYPE = "virtio-balloon-device"

# virtio's stat tags, in tag order, with the names QEMU reports them under
STAT_NAMES: tuple[str, ...] = tuple(STAT_QEMU_NAMES)
# stats in bytes, so at most the RAM size
MEMORY_STAT_TAGS = frozenset(
    (StatTag.FREE_MEMORY, StatTag.TOTAL_MEMORY, StatTag.AVAILABLE_MEMORY, StatTag.DISK_CACHES)
)


class GuestRequests(Protocol):
    """How the device asks its guest for things; every call returns at once."""

    def set_target(self, pages: int) -> None: ...

    def request_stats(self) -> bool: ...


class _NoGuest:
    def set_target(self, pages: int) -> None:
        pass

    def request_stats(self) -> bool:
        return False


Scheduler = Callable[[float, Callable[[], None]], Any]


class BalloonDevice:
    """The balloon as the host sees it.

    ``on_actual_change(actual)`` and ``on_stats(stats, last_update)`` report what the
    guest said; ``call_later`` runs the stats polling timer (none: no polling).
    """

    def __init__(
        self,
        ram_size: int,
        on_actual_change: Callable[[int], None],
        on_stats: Callable[[dict[str, int], int], None] | None = None,
        call_later: Scheduler | None = None,
    ) -> None:
        self.ram_size = ram_size
        self.target_pages = 0  # pages the guest is asked to give back
        self.actual_pages = 0  # pages the guest has given back, as it last reported
        self.stats: dict[str, int] = {}  # only what the guest reported
        self.stats_last_update = 0  # host time (seconds) of the last stats report
        self.request_since: float | None = None  # host time of the oldest unanswered request
        self.poll_interval = 0  # seconds; 0 means the host does not poll
        self.guest: GuestRequests = _NoGuest()
        self._on_actual_change = on_actual_change
        self._on_stats = on_stats
        self._call_later = call_later
        self._poll_timer: Any = None

    @property
    def actual(self) -> int:
        """The guest's memory size in bytes, as the host last heard."""
        return self.ram_size - (self.actual_pages << PAGE_SHIFT)

    @property
    def target(self) -> int:
        return self.ram_size - (self.target_pages << PAGE_SHIFT)

    # -- requests (return at once) --------------------------------------------------------

    def set_target(self, value: int) -> None:
        """Ask for ``value`` bytes of guest memory (QEMU's ``balloon`` semantics)."""
        if value <= 0:
            raise CommandError(parameter_out_of_range("target", "a size"))
        value = min(value, self.ram_size)
        self.target_pages = (self.ram_size - value) >> PAGE_SHIFT
        self.guest.set_target(self.target_pages)

    def request_stats(self) -> None:
        """Ask the guest for statistics; their arrival is reported, never awaited.
        As QEMU, one request at a time: the guest is asked again once it has answered."""
        if self.request_since is None and self.guest.request_stats():
            self.request_since = time.time()

    def guest_replaced(self) -> None:
        """A fresh guest starts: its driver has not reported anything yet."""
        self.request_since = None
        self.guest.set_target(self.target_pages)

    # -- reports from the guest -------------------------------------------------------------

    def report_actual(self, pages: int) -> None:
        """The guest driver says it holds ``pages`` pages in the balloon."""
        if pages != self.actual_pages:
            self.actual_pages = pages
            self._on_actual_change(self.actual)

    def report_stats(self, entries: list[tuple[int, int]]) -> None:
        """The guest sent statistics (tag, value), already checked for plausibility."""
        now = int(time.time())
        # a report replaces the last one (as QEMU resets its stats first): nothing stale
        self.stats = {STAT_NAMES[tag]: value for tag, value in entries}
        self.stats_last_update = now
        self.request_since = None
        if self._on_stats is not None:
            self._on_stats(dict(self.stats), now)

    # -- QEMU's guest-stats and polling ---------------------------------------------------

    def guest_stats(self) -> dict[str, Any]:
        stats = {name: self.stats.get(name, UNSET_STAT) for name in STAT_NAMES}
        return {"stats": stats, "last-update": self.stats_last_update}

    def set_poll_interval(self, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise CommandError(parameter_type_invalid("guest-stats-polling-interval", "integer"))
        if value < 0:
            raise CommandError("timer value must be greater than zero")
        if value > MAX_POLL_INTERVAL:
            raise CommandError("timer value is too big")
        self.poll_interval = value
        if self._poll_timer is not None:
            self._poll_timer.cancel()
            self._poll_timer = None
        if value and self._call_later is not None:
            self._poll_timer = self._call_later(value, self._poll)

    def _poll(self) -> None:
        self.request_stats()
        if self.poll_interval and self._call_later is not None:
            self._poll_timer = self._call_later(self.poll_interval, self._poll)

    def qom_object(self, type_name: str) -> QomObject:
        """The device as QEMU shows it: the PCI device, with the stats properties of its
        ``virtio-backend`` child also reachable on it (QEMU's property aliases)."""
        backend = QomObject(BACKEND_TYPE)
        obj = QomObject(type_name)
        for target in (backend, obj):
            target.add_property(
                Property("guest-stats", "guest statistics", self.guest_stats, owner=BACKEND_TYPE)
            )
            target.add_property(
                Property(
                    "guest-stats-polling-interval",
                    "int",
                    lambda: self.poll_interval,
                    self.set_poll_interval,
                    owner=BACKEND_TYPE,
                )
            )
        obj.add_child("virtio-backend", backend)
        return obj
