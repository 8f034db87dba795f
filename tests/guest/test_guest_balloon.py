"""The guest process's balloon driver over a real socketpair: READY, ACTUAL, real RSS, stats."""

from __future__ import annotations

import time

from guest_harness import MIB, GuestProcess

from pyqmp.channel import (
    READY,
    StatTag,
    decode_u64,
    encode_set_fault,
    encode_set_target,
    encode_stats_request,
)

RAM = 256 * MIB
STEP_PAGES = 16 * MIB // 4096


def boot(guest: GuestProcess) -> None:
    assert decode_u64(guest.expect(READY).payload) == guest.pages
    assert guest.wait_actual(0) == [0]


def test_ready_then_actual_zero() -> None:
    with GuestProcess(RAM) as guest:
        frames = guest.first_frames(2)  # however long the guest takes to start
        assert [frame.type for frame in frames] == [16, 17]
        assert decode_u64(frames[0].payload) == RAM // 4096
        assert decode_u64(frames[1].payload) == 0


def test_inflate_drops_rss_and_deflate_lets_it_grow_back() -> None:
    with GuestProcess(RAM) as guest:
        boot(guest)
        half = guest.pages // 2
        before = guest.rss()
        assert before >= 0.6 * RAM  # the workload holds ~70% of RAM
        started = time.monotonic()
        guest.send(encode_set_target(half))
        levels = guest.wait_actual(half, timeout=5)
        inflate_time = time.monotonic() - started
        inflated = guest.rss()
        # Steps of 16 MiB, each reported: the level climbs to the target, never past it.
        assert levels == [STEP_PAGES * n for n in range(1, len(levels) + 1)]
        assert inflate_time < 5
        assert before - inflated >= 0.4 * RAM, (before, inflated)
        # The guest under pressure settles with its RSS still down.
        guest.collect(1.5)
        settled = guest.rss()
        assert before - settled >= 0.4 * RAM, (before, settled)

        guest.send(encode_set_target(0))
        assert guest.wait_actual(0, timeout=5)[-1] == 0
        deadline = time.monotonic() + 10
        grown = guest.rss()
        while grown - settled < 0.25 * RAM and time.monotonic() < deadline:
            guest.collect(0.25)
            grown = guest.rss()
        assert grown - settled >= 0.25 * RAM, (settled, grown)
        print(
            f"RSS MiB: before {before / MIB:.1f}, inflated {inflated / MIB:.1f} "
            f"({inflate_time:.2f} s), settled {settled / MIB:.1f}, regrown {grown / MIB:.1f}"
        )


def test_stats_describe_guest_memory() -> None:
    with GuestProcess(RAM) as guest:
        boot(guest)
        guest.send(encode_stats_request())
        stats = guest.expect_stats()
        assert sorted(stats) == list(range(10))
        assert stats[StatTag.SWAP_IN] == stats[StatTag.SWAP_OUT] == 0
        assert stats[StatTag.HUGETLB_ALLOCATIONS] == stats[StatTag.HUGETLB_FAILURES] == 0
        assert stats[StatTag.MINOR_FAULTS] > (0.6 * RAM) // 4096  # it wrote its pages
        assert stats[StatTag.MAJOR_FAULTS] < stats[StatTag.MINOR_FAULTS]
        total = stats[StatTag.TOTAL_MEMORY]
        free = stats[StatTag.FREE_MEMORY]
        caches = stats[StatTag.DISK_CACHES]
        assert total == RAM - RAM // 16  # the guest kernel keeps 1/16 for itself
        assert 0.2 * RAM <= free <= 0.4 * RAM
        assert 0 < caches < 0.1 * total
        assert stats[StatTag.AVAILABLE_MEMORY] == free + caches

        guest.send(encode_set_target(guest.pages // 2))
        guest.wait_actual(guest.pages // 2)
        guest.send(encode_stats_request())
        stats = guest.expect_stats()
        assert stats[StatTag.TOTAL_MEMORY] == RAM // 2 - RAM // 16
        assert stats[StatTag.FREE_MEMORY] <= RAM // 2


def test_target_changed_midway_and_clamped_to_ram() -> None:
    with GuestProcess(64 * MIB) as guest:
        boot(guest)
        guest.send(encode_set_target(guest.pages // 2) + encode_set_target(STEP_PAGES // 2))
        assert guest.wait_actual(STEP_PAGES // 2) == [STEP_PAGES // 2]
        guest.send(encode_set_target(2**64 - 1))  # more than the guest has
        assert guest.wait_actual(guest.pages)[-1] == guest.pages
        guest.send(encode_stats_request())
        stats = guest.expect_stats()
        assert stats[StatTag.TOTAL_MEMORY] == 0
        assert stats[StatTag.FREE_MEMORY] == 0


def test_unknown_fault_code_and_bad_frames_are_ignored() -> None:
    with GuestProcess(64 * MIB) as guest:
        boot(guest)
        guest.send(
            b"not a frame"
            + encode_set_fault(99)
            + b"\x0c\xb1\x11\x00\x08\x00\x00\x00"
            + bytes(8)  # a guest frame, sent to it
            + encode_stats_request()
        )
        assert sorted(guest.expect_stats()) == list(range(10))
        assert guest.process.poll() is None
