"""The host's end of the guest channel, with no I/O: bytes in, typed reports out, bytes to send.

:class:`GuestChannel` is driven like the QMP engine: feed it what the guest sent with
:meth:`~GuestChannel.receive_data` and take the :class:`Actual` and :class:`Stats`
reports it returns; ask the guest for things (:meth:`~GuestChannel.set_target`,
:meth:`~GuestChannel.request_stats`...) and write what :meth:`~GuestChannel.data_to_send`
gives, telling it with :meth:`~GuestChannel.sent` how much the socket took.  Time is
passed in (``now``, seconds on any monotonic clock), so the whole engine is tested with
byte strings.  Its one rule: **nothing the guest does can make the host wait, buffer or
work without bound.**

- What the guest sends is untrusted: the channel's decoder drops and counts malformed
  frames (:attr:`~GuestChannel.malformed`), and values no real guest could report (a
  balloon bigger than the RAM, a memory statistic above it, a tag virtio does not have)
  are dropped and counted apart (:attr:`~GuestChannel.lies`).
- At most :attr:`GuestLimits.frames_per_second` frames are taken per second.  Past that
  the engine says :attr:`~GuestChannel.reading_paused` (stop reading the socket) and
  holds the rest, one frame per type, the latest, since a later report supersedes an
  earlier one; :meth:`~GuestChannel.resume` releases them ``pause`` seconds later.
- What the host sends is a few control frames, coalesced: behind a frame the guest has
  not read yet, one frame of each kind waits (the latest), so a guest that stops reading
  holds the host to a few bytes, however often it is asked.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from .. import channel
from .balloon import MEMORY_STAT_TAGS, PAGE_SHIFT, STAT_NAMES


class GuestLimits(NamedTuple):
    """Every bound the host keeps against its guest."""

    #: Frames taken from the guest per second; past it, reading pauses.
    frames_per_second: int = 200
    #: Seconds reading stays paused once the budget is spent.
    pause: float = 1.0


DEFAULT_GUEST_LIMITS: Final = GuestLimits()


class Actual(NamedTuple):
    """The guest's balloon holds ``pages`` 4 KiB pages (already checked against the RAM)."""

    pages: int


class Stats(NamedTuple):
    """The guest's statistics as (virtio tag, value), only the plausible ones."""

    entries: list[tuple[int, int]]


Report = Actual | Stats

_GUEST_TYPES: Final = frozenset((channel.READY, channel.ACTUAL, channel.STATS))
# Held frames are released in this order: the driver is up before it reports.
_RELEASE_ORDER: Final[dict[int, int]] = {channel.READY: 0, channel.ACTUAL: 1, channel.STATS: 2}


class GuestChannel:
    """The host's end of the channel to one guest after another (see the module)."""

    def __init__(self, ram_size: int, limits: GuestLimits = DEFAULT_GUEST_LIMITS) -> None:
        self.ram_size = ram_size
        self.limits = limits
        #: Frames dropped as malformed (bad framing, wrong sizes, lost sync), all guests.
        self.malformed = 0
        #: Values dropped as impossible (a guest lying about its balloon or memory).
        self.lies = 0
        #: This guest's balloon driver has said it is up (READY).
        self.driver_ready = False
        #: Reading is paused: the guest sent more than its budget this second.
        self.reading_paused = False
        self._open = False
        self._decoder = channel.FrameDecoder(_GUEST_TYPES)
        self._counted = 0  # malformed frames of this guest's decoder already counted
        self._second = 0
        self._frames_this_second = 0
        self._held: dict[int, channel.Frame] = {}  # over the budget: one per type
        self._outgoing = b""  # the part of a frame the guest has not read
        self._pending: dict[int, bytes] = {}  # frames waiting behind it, one per kind

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def dropped(self) -> int:
        """Everything dropped: malformed frames and lies (``malformed-frames``)."""
        return self.malformed + self.lies

    # -- a guest's life ------------------------------------------------------------------

    def open(self) -> None:
        """A fresh guest is on the other end: nothing of the last one carries over but
        the counts."""
        self._close_books()
        self._open = True
        self._decoder = channel.FrameDecoder(_GUEST_TYPES)
        self._counted = 0
        self.driver_ready = False

    def close(self) -> None:
        """The guest is gone: what it sent and was held back is never delivered, and what
        waited for it is not sent."""
        self._close_books()
        self._open = False
        self.driver_ready = False

    def _close_books(self) -> None:
        self._held.clear()
        self._outgoing = b""
        self._pending.clear()
        self.reading_paused = False

    # -- guest -> host ---------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Report]:
        """The reports in what the guest sent (after what it sent before)."""
        frames = self._decoder.feed(data)
        self._count_malformed()
        return self._take(frames, now)

    def resume(self, now: float) -> list[Report]:
        """The pause is over: the frames held back, in order; read the socket again
        unless :attr:`reading_paused` says otherwise."""
        self.reading_paused = False
        held = sorted(self._held.values(), key=lambda frame: _RELEASE_ORDER[frame.type])
        self._held.clear()
        return self._take(held, now)

    def _take(self, frames: list[channel.Frame], now: float) -> list[Report]:
        reports: list[Report] = []
        for index, frame in enumerate(frames):
            if not self._within_budget(now):
                for late in frames[index:]:  # a later report supersedes an earlier one
                    self._held[late.type] = late
                break
            report = self._report(frame)
            if report is not None:
                reports.append(report)
        return reports

    def _within_budget(self, now: float) -> bool:
        second = int(now)
        if second != self._second:
            self._second = second
            self._frames_this_second = 0
        self._frames_this_second += 1
        if self._frames_this_second <= self.limits.frames_per_second:
            return True
        self.reading_paused = True
        return False

    def _report(self, frame: channel.Frame) -> Report | None:
        if frame.type == channel.ACTUAL:
            pages = channel.decode_u64(frame.payload)
            if pages << PAGE_SHIFT > self.ram_size:
                self.lies += 1  # a balloon bigger than the RAM
                return None
            return Actual(pages)
        if frame.type == channel.STATS:
            return Stats(self._plausible(channel.decode_stats(frame.payload)))
        self.driver_ready = True  # READY
        return None

    def _plausible(self, entries: list[tuple[int, int]]) -> list[tuple[int, int]]:
        kept = []
        for tag, value in entries:
            if tag >= len(STAT_NAMES) or (tag in MEMORY_STAT_TAGS and value > self.ram_size):
                self.lies += 1
            else:
                kept.append((tag, value))
        return kept

    def _count_malformed(self) -> None:
        decoder = self._decoder
        total = decoder.dropped + decoder.bad_magic
        self.malformed += total - self._counted
        self._counted = total

    # -- host -> guest ---------------------------------------------------------------------

    def set_target(self, pages: int) -> bool:
        """Ask for ``pages`` in the balloon."""
        return self._queue(channel.SET_TARGET, channel.encode_set_target(pages))

    def request_stats(self) -> bool:
        """Ask for statistics; False if no guest is there to ask."""
        return self._queue(channel.STATS_REQUEST, channel.encode_stats_request())

    def powerdown(self) -> bool:
        return self._queue(channel.POWERDOWN, channel.encode_powerdown())

    def set_fault(self, code: int) -> bool:
        return self._queue(channel.SET_FAULT, channel.encode_set_fault(code))

    def _queue(self, kind: int, frame: bytes) -> bool:
        if not self._open:
            return False
        self._pending.pop(kind, None)  # the latest of a kind waits, at the end of the line
        self._pending[kind] = frame
        return True

    def data_to_send(self) -> bytes:
        """What to write now: the rest of the frame being sent, else the next one."""
        if not self._outgoing and self._pending:
            kind = next(iter(self._pending))
            self._outgoing = self._pending.pop(kind)
        return self._outgoing

    def sent(self, count: int) -> None:
        """The socket took ``count`` bytes of :meth:`data_to_send`."""
        self._outgoing = self._outgoing[count:]
