"""Guest RAM and the workload, in this process: page accounting, the balloon, real RSS."""

from __future__ import annotations

import pytest
from guest_harness import MIB, read_rss

from pyqmp.guest.memory import INITIAL_TOUCH, GuestMemory, Workload


def self_rss() -> int:
    import os

    return read_rss(os.getpid())


def test_size_in_whole_pages() -> None:
    memory = GuestMemory(10 * 4096 + 100)
    assert memory.pages == 10
    assert memory.size == 10 * 4096
    assert memory.free_pages == 10
    memory.close()
    with pytest.raises(ValueError, match="at least 4096"):
        GuestMemory(4095)


def test_touch_and_release_count_pages() -> None:
    memory = GuestMemory(100 * 4096)
    memory.touch(10, 30)
    memory.touch(20, 40)
    assert memory.touched_pages == 30
    assert memory.free_pages == 70
    memory.release(25, 35)
    assert memory.touched_pages == 20
    assert list(memory.runs(True, 0, 100)) == [(10, 25), (35, 40)]
    assert list(memory.runs(False, 0, 100)) == [(0, 10), (25, 35), (40, 100)]
    assert list(memory.runs(True, 0, 100, descending=True)) == [(35, 40), (10, 25)]
    assert list(memory.runs(False, 12, 38, descending=True)) == [(25, 35)]
    assert list(memory.runs(True, 12, 38)) == [(12, 25), (35, 38)]
    memory.close()


def test_balloon_takes_the_top_and_forgets_its_pages() -> None:
    memory = GuestMemory(100 * 4096)
    memory.touch(0, 100)
    memory.set_balloon(30)
    assert memory.balloon_pages == 30
    assert memory.usable_pages == 70
    assert memory.touched_pages == 70
    assert list(memory.runs(False, 0, 100)) == [(70, 100)]
    with pytest.raises(ValueError, match="not all usable"):
        memory.touch(60, 80)
    memory.set_balloon(10)  # deflate: the pages come back empty
    assert memory.usable_pages == 90
    assert memory.free_pages == 20
    memory.set_balloon(1000)  # clamped to RAM
    assert memory.balloon_pages == 100
    assert memory.touched_pages == 0
    memory.close()


def test_rss_follows_touch_and_balloon() -> None:
    memory = GuestMemory(64 * MIB)
    base = self_rss()
    memory.touch(0, memory.pages)
    touched = self_rss()
    assert touched - base >= 60 * MIB
    memory.set_balloon(memory.pages // 2)
    assert touched - self_rss() >= 30 * MIB
    memory.close()


def test_workload_start_and_working_set() -> None:
    memory = GuestMemory(1000 * 4096)
    workload = Workload(memory, seed=1)
    workload.start()
    assert memory.touched_pages == int(1000 * INITIAL_TOUCH)
    assert list(memory.runs(True, 0, 1000)) == [(300, 1000)]  # the top of RAM
    # The working set drifts between 65% and 70% of usable memory over a minute...
    assert workload.working_set(0) == 700
    assert 645 <= workload.working_set(30) <= 655
    # ...and shrinks further when the balloon squeezes the guest.
    memory.set_balloon(500)
    assert workload.working_set(0) == int((0.70 - 0.15) * 500)
    memory.close()


def test_workload_moves_towards_its_working_set_at_a_bounded_rate() -> None:
    memory = GuestMemory(1600 * 4096)
    workload = Workload(memory, seed=2)
    workload.start()
    memory.set_balloon(800)  # took the top half, all of it in use
    assert memory.touched_pages == 1600 * 7 // 10 - 800
    workload.tick(0)
    assert memory.touched_pages <= 320 + workload.rate_pages
    for _ in range(10):
        workload.tick(0)
    assert memory.touched_pages == workload.working_set(0)
    memory.set_balloon(0)
    before = memory.touched_pages
    workload.tick(0)
    assert memory.touched_pages - before == workload.rate_pages  # 1/16 of RAM per tick
    # It grew from the top of usable memory: the balloon would take those pages first.
    assert memory.runs(True, 0, 1600, descending=True).__next__()[1] == 1600
    for _ in range(20):
        workload.tick(0)
    assert memory.touched_pages == workload.working_set(0)
    memory.close()


def test_workload_never_touches_the_balloon() -> None:
    memory = GuestMemory(512 * 4096)
    workload = Workload(memory, seed=3)
    workload.start()
    for step in range(40):
        memory.set_balloon((step * 37) % 512)
        workload.tick(step * 0.5)
        usable = memory.usable_pages
        assert list(memory.runs(True, usable, memory.pages)) == []
        assert memory.touched_pages == sum(
            end - first for first, end in memory.runs(True, 0, memory.pages)
        )
    memory.close()
