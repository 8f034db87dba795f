"""The guest's balloon driver, its answers to the host, its faults, and its main loop.

One thread, one ``poll`` loop: the channel socket is non-blocking, what the guest sends
waits in a bounded outbox, and timers (balloon steps, workload ticks, delayed answers,
garbage) are deadlines checked every turn.  The loop never blocks for long, so the guest
notices at once when the host goes away (EOF, hangup, or a new parent process) and never
lingers as an orphan; SIGSTOP and SIGCONT need no handling at all.

Fault modes change what the guest does, not what the host may rely on.  What each mode
changes is a row of :mod:`.faults`; the driver only asks the row (``self.mode.hangs``...),
never which mode it is in.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import signal
import socket
import time
from collections import deque
from collections.abc import Callable

from ..channel import (
    HOST_TO_GUEST_TYPES,
    PAGE_SIZE,
    POWERDOWN,
    SET_FAULT,
    SET_TARGET,
    STATS_REQUEST,
    U64_MAX,
    Frame,
    FrameDecoder,
    StatTag,
    decode_fault,
    decode_u64,
    encode_actual,
    encode_ready,
    encode_stats,
)
from .faults import FAULTS, HEALTHY
from .memory import GuestMemory, Workload

STEP_INTERVAL = 0.05  # seconds between balloon steps
STEP_BYTES = 16 * 1024 * 1024  # balloon step, for guests up to 512 MiB
STEPS_FOR_ALL_RAM = 32  # bigger guests take bigger steps: all of RAM in this many
WORKLOAD_INTERVAL = 0.5
GARBAGE_INTERVAL = 0.05
GARBAGE_CHUNK = 64 * 1024 // 20  # 64 KiB/s
LIE_PAGES = 2**63
HOUSEKEEPING_INTERVAL = 0.2  # longest wait between parent checks
OUTBOX_LIMIT = 256 * 1024
PENDING_LIMIT = 4096  # slow answers waiting for their time
FLOOD_BATCH = 256
RECV_SIZE = 64 * 1024
SEND_SIZE = 64 * 1024
DISK_CACHE_SHARE = 0.02  # modelled page cache, as a share of total memory
# What the guest's kernel keeps for itself, as a share of its RAM: a real guest's
# total-memory is below its RAM (Linux with 512 MiB reports 479657984, about 1/16 less).
KERNEL_RESERVED_SHARE = 1 / 16


class GuestExit(Exception):
    """The guest's life ends: leave the loop and exit with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def crash() -> None:
    """Die as a crashed guest does: of SIGSEGV, leaving no core file."""
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGSEGV, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGSEGV)
    os._exit(139)


class Guest:
    """The guest process: its memory, workload and balloon driver, on one channel."""

    def __init__(
        self,
        channel: socket.socket,
        memory: GuestMemory,
        fault: int = HEALTHY.code,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault mode code {fault}")
        self.channel = channel
        self.memory = memory
        self.workload = Workload(memory, seed)
        self.mode = FAULTS[fault]
        self.clock = clock
        self.decoder = FrameDecoder(HOST_TO_GUEST_TYPES)
        self.target_pages = 0
        self.step_pages = max(STEP_BYTES // PAGE_SIZE, memory.pages // STEPS_FOR_ALL_RAM)
        self.answers_dropped = 0  # answers that found the outbox full
        self._parent = os.getppid()
        self._poller = select.poll()
        self._outbox = bytearray()
        self._pending: deque[tuple[float, bytes]] = deque()
        self._now = clock()
        self._started = self._now
        self._next_step: float | None = None
        self._next_tick = self._now + WORKLOAD_INTERVAL
        self._next_garbage = self._now
        self._shutdown_at: float | None = None

    # -- life ---------------------------------------------------------------------------

    def run(self) -> int:
        """Boot, then serve the host until the guest's life ends; the exit status."""
        self.channel.setblocking(False)
        self._poller.register(self.channel.fileno(), select.POLLIN)
        try:
            self._boot()
            while True:
                self._turn()
        except GuestExit as end:
            return end.code
        finally:
            self.channel.close()

    def _boot(self) -> None:
        self.workload.start()
        if self.mode.crashes:
            crash()
        if self.mode.hangs:
            self._hang()
        if not self.mode.garbage:
            # The driver is up: say so now (even a slow guest boots), then the level.
            self._emit(encode_ready(self.memory.pages))
        self._answer_actual()

    def _turn(self) -> None:
        self._now = now = self.clock()
        if os.getppid() != self._parent:
            raise GuestExit(0)
        if self.mode.hangs:
            self._hang()
        self._run_timers(now)
        deadlines = [self._next_tick, now + HOUSEKEEPING_INTERVAL]
        if self._next_step is not None:
            deadlines.append(self._next_step)
        if self._pending:
            deadlines.append(self._pending[0][0])
        if self.mode.garbage:
            deadlines.append(self._next_garbage)
        if self._shutdown_at is not None:
            deadlines.append(self._shutdown_at)
        timeout = max(0.0, min(deadlines) - now)
        mask = select.POLLIN
        if self._outbox:
            mask |= select.POLLOUT
        self._poller.modify(self.channel.fileno(), mask)
        for _, events in self._poller.poll(timeout * 1000):
            if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                self._receive()
            if events & select.POLLOUT and not self.mode.hangs:
                self._transmit()

    def _hang(self) -> None:
        # Read nothing, answer nothing; only notice the host going away.
        self._poller.modify(self.channel.fileno(), 0)
        while True:
            if os.getppid() != self._parent:
                raise GuestExit(0)
            for _, events in self._poller.poll(HOUSEKEEPING_INTERVAL * 1000):
                if events & (select.POLLHUP | select.POLLERR):
                    raise GuestExit(0)

    def _run_timers(self, now: float) -> None:
        if self._shutdown_at is not None and now >= self._shutdown_at:
            raise GuestExit(0)
        if self._next_step is not None and now >= self._next_step:
            self._balloon_step(now)
        if now >= self._next_tick:
            self.workload.tick(now - self._started)
            self._next_tick = now + WORKLOAD_INTERVAL
        while self._pending and self._pending[0][0] <= now:
            self._emit(self._pending.popleft()[1])
        if self.mode.garbage and now >= self._next_garbage:
            if len(self._outbox) < OUTBOX_LIMIT:
                self._outbox += os.urandom(GARBAGE_CHUNK)
            self._next_garbage = now + GARBAGE_INTERVAL
        if self.mode.floods and len(self._outbox) < OUTBOX_LIMIT // 2:
            self._outbox += self._stats_frame() * FLOOD_BATCH

    # -- the channel --------------------------------------------------------------------

    def _receive(self) -> None:
        try:
            data = self.channel.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # ECONNRESET and the like: the host is gone
            raise GuestExit(0) from None
        if not data:
            raise GuestExit(0)
        for frame in self.decoder.feed(data):
            self._handle(frame)
            if self.mode.hangs:
                return  # it stops reading, even what it already has

    def _transmit(self) -> None:
        try:
            sent = self.channel.send(bytes(self._outbox[:SEND_SIZE]))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EPIPE, ECONNRESET: the host is gone
            raise GuestExit(0) from None
        del self._outbox[:sent]

    def _emit(self, frame: bytes) -> None:
        if len(self._outbox) >= OUTBOX_LIMIT:
            self.answers_dropped += 1  # the host is not reading; newer news will follow
        else:
            self._outbox += frame

    def _answer(self, frame: bytes) -> None:
        if self.mode.garbage:
            return  # random bytes go out instead of frames
        if self.mode.answer_delay:
            if len(self._pending) < PENDING_LIMIT:
                self._pending.append((self._now + self.mode.answer_delay, frame))
            else:
                self.answers_dropped += 1
            return
        self._emit(frame)

    # -- the driver ---------------------------------------------------------------------

    def _handle(self, frame: Frame) -> None:
        if frame.type == SET_TARGET:
            self.target_pages = min(decode_u64(frame.payload), self.memory.pages)
            if self._next_step is None:
                self._next_step = self._now
        elif frame.type == STATS_REQUEST:
            self._answer(self._stats_frame())
        elif frame.type == POWERDOWN:
            if self.mode.answer_delay:
                if self._shutdown_at is None:
                    self._shutdown_at = self._now + self.mode.answer_delay
            else:
                raise GuestExit(0)
        elif frame.type == SET_FAULT:
            code = decode_fault(frame.payload)
            if code in FAULTS:
                self.set_fault(code)

    def set_fault(self, code: int) -> None:
        """Behave as the mode with wire code ``code`` says from now on."""
        mode = self.mode = FAULTS[code]
        if mode.crashes:
            crash()
        if not mode.answer_delay:  # what a slow mode held back goes out now
            while self._pending:
                frame = self._pending.popleft()[1]
                if not mode.garbage:
                    self._emit(frame)
        if mode.garbage:
            self._next_garbage = self._now

    def _balloon_step(self, now: float) -> None:
        current = self.memory.balloon_pages
        change = max(-self.step_pages, min(self.step_pages, self.target_pages - current))
        if change:
            self.memory.set_balloon(current + change)
            self._answer_actual()
        done = self.memory.balloon_pages == self.target_pages
        self._next_step = None if done else now + STEP_INTERVAL

    def _answer_actual(self) -> None:
        pages = LIE_PAGES if self.mode.lies else self.memory.balloon_pages
        self._answer(encode_actual(pages))

    def stats(self) -> list[tuple[int, int]]:
        """The statistics the driver reports, as (virtio tag, value) in tag order."""
        if self.mode.lies:
            return [(tag, U64_MAX) for tag in StatTag]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        reserved = int(self.memory.pages * KERNEL_RESERVED_SHARE) * PAGE_SIZE
        total = max(0, self.memory.usable_pages * PAGE_SIZE - reserved)
        free = min(total, self.memory.free_pages * PAGE_SIZE)
        caches = int(total * DISK_CACHE_SHARE)
        return [
            (StatTag.SWAP_IN, 0),
            (StatTag.SWAP_OUT, 0),
            (StatTag.MAJOR_FAULTS, usage.ru_majflt),
            (StatTag.MINOR_FAULTS, usage.ru_minflt),
            (StatTag.FREE_MEMORY, free),
            (StatTag.TOTAL_MEMORY, total),
            (StatTag.AVAILABLE_MEMORY, min(total, free + caches)),
            (StatTag.DISK_CACHES, caches),
            (StatTag.HUGETLB_ALLOCATIONS, 0),
            (StatTag.HUGETLB_FAILURES, 0),
        ]

    def _stats_frame(self) -> bytes:
        return encode_stats(self.stats())
