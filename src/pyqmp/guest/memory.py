"""Guest RAM: real anonymous memory, which pages hold data, and which are in the balloon.

The guest's RAM is a private anonymous mapping, so the pages the guest writes really are
resident in this process (the host sees them in its RSS) and the pages it gives to the
balloon really go back (``MADV_DONTNEED``).  A byte per page records whether the page
holds data ("touched"); a touched page is never in the balloon.  The balloon holds the
top ``balloon_pages`` pages of RAM, so it grows from the top downwards.

The workload places its data from the top of usable memory downwards and frees from the
bottom, so what the balloon takes is memory in use (as in a guest that has run for a
while, where every page has been written) and inflating visibly lowers RSS.  Its working
set is a fraction of usable memory that drifts slowly over time, smaller when the balloon
squeezes the guest (as a guest drops caches under pressure), and it moves towards it at
a bounded rate, so RSS grows back over seconds after a deflate.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import random
from collections.abc import Iterator

from ..channel import PAGE_SIZE

INITIAL_TOUCH = 0.70  # fraction of RAM written at start
WORKING_SET_BASE = 0.70  # working set, as a fraction of usable memory, with no balloon
WORKING_SET_SWING = 0.05  # how far it drifts below the base, over DRIFT_PERIOD
DRIFT_PERIOD = 60.0  # seconds
PRESSURE_SHRINK = 0.30  # working-set fraction given up per unit of ballooned RAM fraction
WORKLOAD_RATE = 1 / 16  # at most this fraction of RAM touched or freed per tick
DIRTY_WINDOW = 1 / 32  # fraction of RAM rewritten per tick


class GuestMemory:
    """``size`` bytes of anonymous memory in 4 KiB pages, with the balloon on top."""

    def __init__(self, size: int) -> None:
        self.pages = size // PAGE_SIZE
        if self.pages < 1:
            raise ValueError(f"guest RAM must be at least {PAGE_SIZE} bytes, got {size}")
        self.size = self.pages * PAGE_SIZE
        self._map = mmap.mmap(-1, self.size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        # Keep RSS in step with the page accounting: no transparent huge pages.
        nohugepage = getattr(mmap, "MADV_NOHUGEPAGE", None)
        if nohugepage is not None:
            with contextlib.suppress(OSError):
                self._map.madvise(nohugepage)
        self._touched = bytearray(self.pages)
        self.touched_pages = 0
        self.balloon_pages = 0
        self._pattern = 0

    @property
    def usable_pages(self) -> int:
        return self.pages - self.balloon_pages

    @property
    def free_pages(self) -> int:
        """Pages neither holding data nor in the balloon."""
        return self.usable_pages - self.touched_pages

    def close(self) -> None:
        self._map.close()

    def touch(self, start: int, stop: int) -> None:
        """Write to every page in [start, stop), which must be outside the balloon."""
        if not 0 <= start <= stop <= self.usable_pages:
            raise ValueError(f"pages [{start}, {stop}) are not all usable")
        if start == stop:
            return
        self._pattern = self._pattern % 255 + 1
        # One byte per page is enough to make the kernel give us the whole page.
        self._map[start * PAGE_SIZE : stop * PAGE_SIZE : PAGE_SIZE] = bytes((self._pattern,)) * (
            stop - start
        )
        self.touched_pages += (stop - start) - self._touched.count(1, start, stop)
        self._touched[start:stop] = b"\x01" * (stop - start)

    def release(self, start: int, stop: int) -> None:
        """Give pages [start, stop) back to the host (their contents are lost)."""
        if not 0 <= start <= stop <= self.pages:
            raise ValueError(f"pages [{start}, {stop}) are outside RAM")
        if start == stop:
            return
        self._map.madvise(mmap.MADV_DONTNEED, start * PAGE_SIZE, (stop - start) * PAGE_SIZE)
        self.touched_pages -= self._touched.count(1, start, stop)
        self._touched[start:stop] = bytes(stop - start)

    def set_balloon(self, pages: int) -> None:
        """Make the balloon hold the top ``pages`` pages (clamped to RAM)."""
        pages = max(0, min(pages, self.pages))
        if pages > self.balloon_pages:
            self.release(self.pages - pages, self.pages - self.balloon_pages)
        # Deflating just hands the pages back: they hold nothing until written again.
        self.balloon_pages = pages

    def runs(
        self, touched: bool, start: int, stop: int, descending: bool = False
    ) -> Iterator[tuple[int, int]]:
        """Maximal ranges of pages in [start, stop) that are (or are not) touched."""
        flag, other = (b"\x01", b"\x00") if touched else (b"\x00", b"\x01")
        bitmap = self._touched
        if descending:
            pos = stop
            while pos > start:
                last = bitmap.rfind(flag, start, pos)
                if last < 0:
                    return
                before = bitmap.rfind(other, start, last)
                first = start if before < 0 else before + 1
                yield first, last + 1
                pos = first
        else:
            pos = start
            while pos < stop:
                first = bitmap.find(flag, pos, stop)
                if first < 0:
                    return
                end = bitmap.find(other, first, stop)
                end = stop if end < 0 else end
                yield first, end
                pos = end


class Workload:
    """What runs in the guest: it keeps a drifting working set in usable memory."""

    def __init__(self, memory: GuestMemory, seed: int | None = None) -> None:
        self.memory = memory
        self._random = random.Random(seed)
        self.rate_pages = max(1, int(memory.pages * WORKLOAD_RATE))
        self.dirty_pages = max(1, int(memory.pages * DIRTY_WINDOW))

    def start(self) -> None:
        """Boot: write the top INITIAL_TOUCH of RAM."""
        memory = self.memory
        memory.touch(memory.pages - int(memory.pages * INITIAL_TOUCH), memory.pages)

    def working_set(self, elapsed: float) -> int:
        """The pages the workload wants to hold, ``elapsed`` seconds after start."""
        memory = self.memory
        drift = WORKING_SET_SWING * (1 - math.cos(2 * math.pi * elapsed / DRIFT_PERIOD)) / 2
        pressure = PRESSURE_SHRINK * memory.balloon_pages / memory.pages
        fraction = max(0.0, WORKING_SET_BASE - drift - pressure)
        return int(fraction * memory.usable_pages)

    def tick(self, elapsed: float) -> None:
        """One step of work: move towards the working set, and rewrite a window."""
        memory = self.memory
        usable = memory.usable_pages
        wanted = self.working_set(elapsed)
        if memory.touched_pages < wanted:
            # Grow from the top of usable memory downwards.
            need = min(self.rate_pages, wanted - memory.touched_pages)
            grow = []
            for first, end in memory.runs(False, 0, usable, descending=True):
                first = max(first, end - need)
                grow.append((first, end))
                need -= end - first
                if not need:
                    break
            for first, end in grow:
                memory.touch(first, end)
        elif memory.touched_pages > wanted:
            # Free from the bottom.
            excess = min(self.rate_pages, memory.touched_pages - wanted)
            shrink = []
            for first, end in memory.runs(True, 0, usable):
                end = min(end, first + excess)
                shrink.append((first, end))
                excess -= end - first
                if not excess:
                    break
            for first, end in shrink:
                memory.release(first, end)
        self._dirty_window(usable)

    def _dirty_window(self, usable: int) -> None:
        # Rewrite pages already holding data, from a place that changes every tick.
        if not usable:
            return
        budget = self.dirty_pages
        start = self._random.randrange(usable)
        rewrite = []
        for first, end in self.memory.runs(True, start, usable):
            end = min(end, first + budget)
            rewrite.append((first, end))
            budget -= end - first
            if not budget:
                break
        for first, end in rewrite:
            self.memory.touch(first, end)
