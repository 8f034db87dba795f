"""A guest simulated inside the machine's process, for fleets of hundreds of machines.

A real guest (:mod:`.guest_link`) is a process holding the guest's RAM; a simulated fleet
(:mod:`.sim_fleet`) cannot afford one per machine.  :class:`SimulatedGuest` is the same
``GuestControl`` to the machine, answering on the event loop as a healthy balloon driver
would: it reports ``actual`` after a target, statistics (total and free memory, a growing
fault count) after a request, and nothing while frozen (``stop``) until ``cont``.  It
holds no RAM: its numbers are made up, and say so only by being simple.  Of the fault
modes it plays ``hang`` (it never answers again until it is replaced).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..channel import PAGE_SIZE, StatTag
from ..server.errors import CommandError
from .guest_link import GuestEvents
from .machine_qapi import BalloonDriverState

# How long the simulated driver takes to answer (a real one answers in about this).
ANSWER_DELAY = 0.001


class SimulatedGuest:
    """The machine's ``GuestControl``, with no process behind it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ram_size: int, events: GuestEvents) -> None:
        self.loop = loop
        self.ram_pages = ram_size // PAGE_SIZE
        self.events = events
        self.alive = False
        self.frozen = False
        self.driver_ready = False
        self.exited = False
        self.malformed_frames = 0
        self._hung = False
        self._balloon_pages = 0
        self._minor_faults = 0
        self._waiting: dict[str, Callable[[], None]] = {}  # answers held while frozen

    @property
    def driver_state(self) -> BalloonDriverState:
        """As :attr:`.guest_link.GuestLink.driver_state`."""
        if self.exited:
            return "gone"
        if not self.alive or not self.driver_ready:
            return "absent"
        return "frozen" if self.frozen else "ready"

    def start(self) -> None:
        self.kill()
        self.alive = True
        self.exited = False
        self._hung = False
        self._minor_faults = 0
        self._answer("ready", self._ready)
        self._answer("actual", lambda: self.events.on_actual(self._balloon_pages))

    def _ready(self) -> None:
        self.driver_ready = True

    def kill(self) -> None:
        self.alive = False
        self.driver_ready = False
        self.frozen = False
        self._waiting.clear()

    def freeze(self) -> None:
        self.frozen = True

    def thaw(self) -> None:
        self.frozen = False
        waiting, self._waiting = self._waiting, {}
        for kind, answer in waiting.items():
            self._answer(kind, answer)

    def powerdown(self) -> None:
        def shut_down() -> None:
            self.alive = False
            self.driver_ready = False
            self.exited = True
            self.events.on_exit(0)

        self._answer("exit", shut_down)

    def set_target(self, pages: int) -> None:
        def balloon() -> None:
            self._balloon_pages = min(pages, self.ram_pages)
            self.events.on_actual(self._balloon_pages)

        self._answer("actual", balloon)

    def request_stats(self) -> bool:
        if not self.alive:
            return False
        self._answer("stats", self._report_stats)
        return True

    def set_fault(self, mode: str) -> None:
        if mode not in ("none", "hang"):
            raise CommandError(f"A simulated guest only plays 'hang', not '{mode}'")
        self._hung = mode == "hang"

    def _report_stats(self) -> None:
        self._minor_faults += 1000
        total = (self.ram_pages - self._balloon_pages) * PAGE_SIZE
        self.events.on_stats(
            [
                (StatTag.MINOR_FAULTS, self._minor_faults),
                (StatTag.MAJOR_FAULTS, 0),
                (StatTag.TOTAL_MEMORY, total),
                (StatTag.FREE_MEMORY, total // 2),
                (StatTag.AVAILABLE_MEMORY, total // 2),
            ]
        )

    def _answer(self, kind: str, answer: Callable[[], None]) -> None:
        """Run ``answer`` shortly, as the driver would; while frozen, hold the latest
        answer of each kind (so a frozen guest holds a few answers, never more)."""
        if self._hung:
            return
        if self.frozen:
            self._waiting[kind] = answer
            return

        def deliver() -> None:
            if not self.alive or self._hung:
                return
            if self.frozen:
                self._waiting[kind] = answer
            else:
                answer()

        self.loop.call_later(ANSWER_DELAY, deliver)
