"""The host end of the guest channel fed random and hostile bytes (hypothesis).

Whatever a guest sends — garbage, truncated frames, valid frames with absurd values,
floods — the host never raises, the balloon's actual never exceeds the RAM, no memory
statistic the host keeps exceeds the RAM, and what was dropped is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pyqmp import channel
from pyqmp.machine import machine_qapi as api
from pyqmp.machine.guest_link import GuestEvents, GuestLink
from pyqmp.machine.machine import Machine, MachineConfig

RAM = 64 << 20
MEMORY_STATS = (
    "stat-free-memory",
    "stat-total-memory",
    "stat-available-memory",
    "stat-disk-caches",
)


class StubLoop:
    """Just what the link's read path may call on its loop (pausing a flood)."""

    def remove_reader(self, fd: int) -> None:
        pass

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        pass

    def call_later(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        pass

    def add_writer(self, fd: int, callback: Callable[[], None]) -> None:
        pass

    def remove_writer(self, fd: int) -> None:
        pass


def make_link() -> tuple[GuestLink, Machine, list[tuple[str, Any]]]:
    sent: list[tuple[str, Any]] = []
    machine = Machine(
        MachineConfig(ram_size=RAM),
        api.Events(lambda name, data: sent.append((name, data))),
        lambda: None,
    )
    link = GuestLink(
        StubLoop(),  # type: ignore[arg-type]
        RAM,
        GuestEvents(machine.guest_actual, machine.guest_stats, machine.guest_exited),
    )
    return link, machine, sent


def feed(link: GuestLink, data: bytes) -> None:
    link._handle(link._decoder.feed(data))


u64 = st.integers(min_value=0, max_value=2**64 - 1)
frames = st.one_of(
    st.builds(channel.encode_actual, u64),
    st.builds(channel.encode_ready, u64),
    st.builds(
        channel.encode_stats, st.lists(st.tuples(st.integers(0, 2**16 - 1), u64), max_size=16)
    ),
    st.binary(max_size=64),  # garbage
    st.builds(
        lambda f, cut: f[:cut], st.builds(channel.encode_actual, u64), st.integers(0, 15)
    ),  # truncated
    st.builds(
        lambda t, p: channel.MAGIC_BYTES + bytes([t, 0]) + len(p).to_bytes(4, "little") + p,
        st.integers(0, 255),
        st.binary(max_size=40),
    ),  # any type, any payload
)


@settings(max_examples=300, deadline=None)
@given(st.lists(frames, max_size=40), st.integers(1, 64))
def test_hostile_guest_bytes_never_hurt_the_host(chunks: list[bytes], split: int) -> None:
    link, machine, _ = make_link()
    data = b"".join(chunks)
    for start in range(0, len(data), split):
        feed(link, data[start : start + split])
    device = machine.balloon_device
    assert device is not None
    assert 0 <= device.actual <= RAM
    for name in MEMORY_STATS:
        assert device.stats.get(name, 0) <= RAM
    assert set(device.stats) <= set(channel.STAT_QEMU_NAMES)
    assert link.malformed_frames >= 0


def test_lies_are_dropped_and_counted() -> None:
    link, machine, sent = make_link()
    feed(link, channel.encode_actual(2**63))  # a balloon bigger than the RAM
    feed(link, channel.encode_stats([(5, 2**64 - 1), (3, 7)]))  # total > RAM; faults fine
    assert machine.query_balloon().actual == RAM
    assert machine.balloon_device is not None
    assert machine.balloon_device.stats == {"stat-minor-faults": 7}
    assert link.malformed_frames == 2
    assert [name for name, _ in sent] == ["BALLOON_STATS_UPDATE"]


def test_garbage_is_counted_and_valid_frames_after_it_are_used() -> None:
    link, machine, _ = make_link()
    feed(link, b"\xff" * 1000 + channel.encode_actual(256))
    assert machine.query_balloon().actual == RAM - (256 << 12)
    assert link.malformed_frames >= 1


def test_a_flood_is_read_at_a_bounded_rate() -> None:
    link, _, sent = make_link()
    feed(link, channel.encode_stats([(3, 1)]) * 5000)
    updates = [name for name, _ in sent if name == "BALLOON_STATS_UPDATE"]
    assert len(updates) <= 200  # the rest of this second's frames are dropped unread


def test_a_guest_that_does_not_read_holds_the_host_to_a_few_bytes() -> None:
    """Behind an unread frame one frame of each kind waits, the latest: asking a guest
    that stopped reading ten thousand times costs the host nothing more."""
    import socket

    link, _, _ = make_link()
    host_end, guest_end = socket.socketpair()
    host_end.setblocking(False)
    link._sock = host_end
    try:
        while True:  # fill the kernel's buffer: the guest never reads
            try:
                host_end.send(b"\0" * 65536)
            except BlockingIOError:
                break
        for pages in range(10_000):
            link.set_target(pages)
            link.request_stats()
            link.powerdown()
        assert len(link._outgoing) <= channel.MAX_FRAME
        assert len(link._pending) == 3  # the latest target, one stats request, a powerdown
        assert link._pending[channel.SET_TARGET] == channel.encode_set_target(9_999)
    finally:
        link._sock = None
        host_end.close()
        guest_end.close()
