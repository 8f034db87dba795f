"""The host's end of the guest channel, driven with byte strings only: no process, no
socket, no event loop; time is a number passed in."""

from __future__ import annotations

from pyqmp import channel
from pyqmp.channel.frames import StatTag
from pyqmp.machine.guest_channel import (
    DEFAULT_GUEST_LIMITS,
    Actual,
    GuestChannel,
    GuestLimits,
    Stats,
)

RAM = 64 << 20  # bytes
PAGES = RAM >> 12


def opened(limits: GuestLimits = DEFAULT_GUEST_LIMITS) -> GuestChannel:
    engine = GuestChannel(RAM, limits)
    engine.open()
    return engine


def test_frames_become_typed_reports_whatever_the_split() -> None:
    data = (
        channel.encode_ready(PAGES)
        + channel.encode_actual(256)
        + channel.encode_stats([(StatTag.MINOR_FAULTS, 7), (StatTag.FREE_MEMORY, 4096)])
    )
    expected = [
        Actual(256),
        Stats([(StatTag.MINOR_FAULTS, 7), (StatTag.FREE_MEMORY, 4096)]),
    ]
    whole = opened()
    assert whole.receive_data(data, now=0.0) == expected
    assert whole.driver_ready
    byte_by_byte = opened()
    reports = [r for i in range(len(data)) for r in byte_by_byte.receive_data(data[i : i + 1], 0.0)]
    assert reports == expected
    assert byte_by_byte.driver_ready
    assert (byte_by_byte.malformed, byte_by_byte.lies) == (0, 0)


def test_lies_and_malformed_frames_are_counted_apart() -> None:
    engine = opened()
    reports = engine.receive_data(
        channel.encode_actual(PAGES + 1)  # a balloon bigger than the RAM
        + channel.encode_stats(
            [
                (StatTag.TOTAL_MEMORY, RAM + 1),
                (len(channel.STAT_QEMU_NAMES), 1),
                (StatTag.MAJOR_FAULTS, 3),
            ]
        )
        + b"\xff" * 100  # garbage
        + channel.encode_actual(PAGES),  # the whole RAM ballooned: possible
        now=0.0,
    )
    assert reports == [Stats([(StatTag.MAJOR_FAULTS, 3)]), Actual(PAGES)]
    assert engine.lies == 3  # the balloon, the total memory, the unknown tag
    assert engine.malformed >= 1
    assert engine.dropped == engine.lies + engine.malformed


def test_a_flood_past_the_budget_pauses_reading_and_keeps_the_latest_of_each_type() -> None:
    engine = opened(GuestLimits(frames_per_second=3, pause=1.0))
    flood = b"".join(channel.encode_actual(pages) for pages in range(10))
    flood += channel.encode_stats([(StatTag.MINOR_FAULTS, 1)]) + channel.encode_ready(PAGES)
    assert engine.receive_data(flood, now=5.2) == [Actual(0), Actual(1), Actual(2)]
    assert engine.reading_paused
    assert not engine.driver_ready  # held back with the rest
    # The pause is over: one frame per type, the latest, the driver's first.
    assert engine.resume(now=6.3) == [Actual(9), Stats([(StatTag.MINOR_FAULTS, 1)])]
    assert engine.driver_ready
    assert not engine.reading_paused
    assert engine.resume(now=6.4) == []  # nothing is released twice


def test_the_budget_is_per_second() -> None:
    engine = opened(GuestLimits(frames_per_second=2, pause=1.0))
    frame = channel.encode_actual(1)
    for second in range(5):
        assert engine.receive_data(frame * 2, now=second + 0.5) == [Actual(1), Actual(1)]
        assert not engine.reading_paused


def test_a_closed_guest_delivers_nothing_it_was_holding() -> None:
    engine = opened(GuestLimits(frames_per_second=1, pause=1.0))
    engine.receive_data(channel.encode_actual(1) + channel.encode_actual(2), now=0.0)
    assert engine.reading_paused
    engine.close()
    assert not engine.reading_paused
    engine.open()
    assert engine.resume(now=2.0) == []
    assert not engine.driver_ready


def test_a_fresh_guest_starts_with_a_fresh_decoder_but_the_counts_carry_over() -> None:
    engine = opened()
    engine.receive_data(
        channel.encode_ready(PAGES) + channel.encode_actual(PAGES + 1) + b"\x0c", 0.0
    )
    assert engine.driver_ready
    assert engine.lies == 1
    engine.open()  # the next guest: half a frame of the last one is not glued to its bytes
    assert not engine.driver_ready
    assert engine.receive_data(channel.encode_actual(5), now=0.0) == [Actual(5)]
    assert engine.lies == 1


def test_what_the_host_sends_is_coalesced_behind_an_unread_frame() -> None:
    engine = opened()
    assert engine.set_target(1)
    first = engine.data_to_send()
    assert first == channel.encode_set_target(1)
    engine.sent(3)  # the socket took part of it; the guest stops reading
    for pages in range(10_000):
        assert engine.set_target(pages)
        assert engine.request_stats()
        assert engine.powerdown()
    assert engine.data_to_send() == first[3:]  # a frame is never cut by another
    engine.sent(len(first) - 3)
    sent = []
    while data := engine.data_to_send():
        sent.append(data)
        engine.sent(len(data))
    # One of each kind, the latest, in the order each kind was last asked for.
    assert sent == [
        channel.encode_set_target(9_999),
        channel.encode_stats_request(),
        channel.encode_powerdown(),
    ]


def test_a_closed_channel_sends_nothing_and_says_so() -> None:
    engine = GuestChannel(RAM)
    assert not engine.request_stats()
    assert not engine.set_fault(channel.FAULT_MODES["hang"])
    engine.open()
    assert engine.set_fault(channel.FAULT_MODES["hang"])
    engine.close()
    assert engine.data_to_send() == b""
    assert not engine.set_target(1)
