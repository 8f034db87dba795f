"""Each fault mode's observable behaviour, set at start (--fault) and at run time (SET_FAULT)."""

from __future__ import annotations

import signal
import time

import pytest
from guest_harness import MIB, GuestProcess

from pyqmp.channel import (
    ACTUAL,
    FAULT_MODES,
    READY,
    STATS,
    U64_MAX,
    decode_stats,
    decode_u64,
    encode_powerdown,
    encode_set_fault,
    encode_set_target,
    encode_stats_request,
)

RAM = 64 * MIB
CRASHED = (-signal.SIGSEGV, 139)


def booted(fault: str | None = None) -> GuestProcess:
    guest = GuestProcess(RAM, fault)
    if fault is None:
        guest.expect(READY)
        guest.wait_actual(0)
    return guest


def first_arrivals(
    guest: GuestProcess, types: set[int], timeout: float
) -> dict[int, tuple[float, bytes]]:
    """When the first frame of each type arrived, and its payload."""
    arrived: dict[int, tuple[float, bytes]] = {}
    deadline = time.monotonic() + timeout
    while set(arrived) != types and time.monotonic() < deadline:
        guest.pump(0.05)
        now = time.monotonic()
        while guest.received:
            frame = guest.received.popleft()
            if frame.type in types and frame.type not in arrived:
                arrived[frame.type] = (now, frame.payload)
    assert set(arrived) == types, arrived
    return arrived


def set_fault(guest: GuestProcess, name: str) -> None:
    guest.send(encode_set_fault(FAULT_MODES[name]))


@pytest.mark.parametrize("at_start", [True, False])
def test_hang_answers_nothing_but_lives(at_start: bool) -> None:
    with booted("hang" if at_start else None) as guest:
        if not at_start:
            set_fault(guest, "hang")
        guest.send(encode_stats_request() + encode_set_target(100) + encode_powerdown())
        assert guest.collect(1.0) == []
        assert guest.raw_bytes == (0 if at_start else 16 + 16)  # READY, ACTUAL(0) only
        assert guest.process.poll() is None  # the power button is ignored too
        assert guest.state() in "RS"
        guest.channel.close()  # the host going away still ends it
        assert guest.wait_exit(timeout=3) == 0


@pytest.mark.parametrize("at_start", [True, False])
def test_crash_dies_of_sigsegv(at_start: bool) -> None:
    with booted("crash" if at_start else None) as guest:
        if not at_start:
            set_fault(guest, "crash")
        assert guest.wait_exit(timeout=5) in CRASHED
        if at_start:
            assert guest.collect(0.2) == []


@pytest.mark.parametrize("at_start", [True, False])
def test_garbage_sends_random_bytes_instead_of_frames(at_start: bool) -> None:
    with booted("garbage" if at_start else None) as guest:
        if not at_start:
            set_fault(guest, "garbage")
        guest.send(encode_set_target(1000) + encode_stats_request())
        before = guest.raw_bytes
        frames = []
        deadline = time.monotonic() + 10
        while guest.raw_bytes - before < 32 * 1024:  # about 64 KiB/s: half a second of it
            assert time.monotonic() < deadline, guest.raw_bytes - before
            guest.pump(0.1)
            frames += guest.received
            guest.received.clear()
        assert guest.decoder.bad_magic >= 1
        assert [frame for frame in frames if frame.type == READY] == []
        assert guest.process.poll() is None
        # Healthy again: the host's decoder finds the frames in the stream once more.
        set_fault(guest, "none")
        guest.send(encode_stats_request())
        assert sorted(guest.expect_stats(timeout=10)) == list(range(10))


def test_flood_sends_stats_as_fast_as_the_socket_takes_them() -> None:
    with booted() as guest:
        set_fault(guest, "flood")
        guest.expect(STATS, timeout=10)
        started = time.monotonic()
        guest.count_until(STATS, 2000)  # a flood: thousands unasked (a rate is for bench/)
        print(f"flood: 2000 STATS frames in {time.monotonic() - started:.2f} s")
        assert guest.decoder.bad_magic == 0
        # Commands still work in the flood, and turning it off stops it.
        guest.send(encode_set_target(4096))
        assert guest.wait_actual(4096, timeout=5)[-1] == 4096
        set_fault(guest, "none")
        guest.until_quiet(STATS, 0.5)  # what was queued drains, then nothing more comes


def test_flood_from_start_still_says_ready() -> None:
    with booted("flood") as guest:
        assert decode_u64(guest.expect(READY).payload) == guest.pages
        assert guest.expect(ACTUAL).payload == bytes(8)
        assert guest.count_until(STATS, 500) >= 500


@pytest.mark.parametrize("at_start", [True, False])
def test_lie_reports_absurd_values(at_start: bool) -> None:
    with booted("lie" if at_start else None) as guest:
        if at_start:
            assert decode_u64(guest.expect(READY).payload) == guest.pages  # honest
            assert decode_u64(guest.expect(ACTUAL).payload) == 2**63
        else:
            set_fault(guest, "lie")
        before = guest.rss()
        guest.send(encode_set_target(guest.pages // 2))
        levels = [decode_u64(guest.expect(ACTUAL).payload) for _ in range(2)]
        assert levels == [2**63, 2**63]  # more pages than the guest has
        guest.send(encode_stats_request())
        stats = decode_stats(guest.expect(STATS).payload)
        assert [tag for tag, _ in stats] == list(range(10))
        assert {value for _, value in stats} == {U64_MAX}
        guest.wait_rss_below(before - RAM // 4)  # it lies, but the balloon really moved


@pytest.mark.parametrize("at_start", [True, False])
def test_slow_answers_late_but_keeps_ballooning(at_start: bool) -> None:
    with booted("slow" if at_start else None) as guest:
        started = time.monotonic()
        if at_start:
            assert guest.expect(READY, timeout=2)  # it boots in time...
            assert guest.expect(ACTUAL, timeout=5).payload == bytes(8)  # ...answers late
            assert time.monotonic() - started >= 2.5
            started = time.monotonic()
        else:
            set_fault(guest, "slow")
        before = guest.rss()
        guest.send(encode_set_target(guest.pages // 2) + encode_stats_request())
        assert guest.collect(1.0) == []
        guest.wait_rss_below(before - RAM // 4)  # the balloon moved meanwhile
        arrived = first_arrivals(guest, {ACTUAL, STATS}, timeout=5)
        assert arrived[ACTUAL][0] - started >= 2.5
        assert arrived[STATS][0] - started >= 2.5
        assert decode_u64(arrived[ACTUAL][1]) > 0
        # Healthy again: what was held back comes out at once, and answers are prompt.
        set_fault(guest, "none")
        asked = time.monotonic()
        guest.send(encode_stats_request())
        guest.expect(STATS, timeout=3)
        assert time.monotonic() - asked < 2.5
