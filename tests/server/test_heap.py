"""server/heap.py: the C heap is trimmed at once, then at most once per interval."""

from __future__ import annotations

import asyncio
import time

import pytest

from pyqmp.server import heap

pytestmark = pytest.mark.skipif(heap._find_trim() is None, reason="no glibc malloc_trim")


def test_a_burst_of_releases_trims_once_now_and_once_at_the_interval_end() -> None:
    async def burst() -> tuple[int, int, int]:
        await asyncio.sleep(heap.TRIM_INTERVAL)  # past any earlier trim's interval
        first = heap.trims()
        heap.release_soon()
        now = heap.trims()
        for _ in range(50):
            heap.release_soon()  # within the interval: one trim scheduled, no more
        assert heap.trims() == now
        deadline = time.monotonic() + 30
        while heap.trims() == now and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        later = heap.trims()
        await asyncio.sleep(heap.TRIM_INTERVAL * 2)
        assert heap.trims() == later  # nothing more was scheduled
        return first, now, later

    first, now, later = asyncio.run(burst())
    assert now == first + 1
    assert later == now + 1
