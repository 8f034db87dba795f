"""The host side of the virtio-balloon device.

What the host knows of the balloon — the target, the guest's last reported ``actual``,
the last statistics and when they came — is all a query ever reads: no command waits
on the guest.  Until a guest driver reports, ``actual`` is the whole RAM and every
statistic is unset (2^64-1), as in QEMU before the guest loads its driver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..server.errors import CommandError
from .qom import Property, QomObject

PAGE_SHIFT = 12  # virtio-balloon counts 4 KiB pages
UNSET_STAT = 2**64 - 1
MAX_POLL_INTERVAL = 2**32 - 1
BACKEND_TYPE = "virtio-balloon-device"

# virtio's stat tags, in QEMU's order, with the names QEMU reports them under
STAT_NAMES = (
    "stat-swap-in",
    "stat-swap-out",
    "stat-major-faults",
    "stat-minor-faults",
    "stat-free-memory",
    "stat-total-memory",
    "stat-available-memory",
    "stat-disk-caches",
    "stat-htlb-pgalloc",
    "stat-htlb-pgfail",
)


class BalloonDevice:
    """The balloon as the host sees it; ``on_actual_change`` reports ``actual`` moves."""

    def __init__(self, ram_size: int, on_actual_change: Callable[[int], None]) -> None:
        self.ram_size = ram_size
        self.target_pages = 0  # pages the guest is asked to give back
        self.actual_pages = 0  # pages the guest has given back, as it last reported
        self.stats = dict.fromkeys(STAT_NAMES, UNSET_STAT)
        self.stats_last_update = 0  # host time (seconds) of the last stats report
        self.poll_interval = 0  # seconds; 0 means the host does not poll
        self._on_actual_change = on_actual_change

    @property
    def actual(self) -> int:
        """The guest's memory size in bytes, as the host last heard."""
        return self.ram_size - (self.actual_pages << PAGE_SHIFT)

    def set_target(self, value: int) -> None:
        """Ask for ``value`` bytes of guest memory (QEMU's ``balloon`` semantics)."""
        if value <= 0:
            raise CommandError("Parameter 'target' expects a size")
        value = min(value, self.ram_size)
        self.target_pages = (self.ram_size - value) >> PAGE_SHIFT

    def report_actual(self, pages: int) -> None:
        """The guest driver says it holds ``pages`` pages in the balloon."""
        if pages != self.actual_pages:
            self.actual_pages = pages
            self._on_actual_change(self.actual)

    def guest_stats(self) -> dict[str, Any]:
        return {"stats": dict(self.stats), "last-update": self.stats_last_update}

    def set_poll_interval(self, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise CommandError(
                "Invalid parameter type for 'guest-stats-polling-interval', expected: integer"
            )
        if value < 0:
            raise CommandError("timer value must be greater than zero")
        if value > MAX_POLL_INTERVAL:
            raise CommandError("timer value is too big")
        self.poll_interval = value

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
