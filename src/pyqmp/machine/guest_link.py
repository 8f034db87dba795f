"""The host end of the guest: its process and the channel to its balloon driver.

The guest is a separate process (``python -m pyqmp.guest``) joined by a socketpair that
carries the framed protocol of :mod:`pyqmp.channel`.  Nothing here ever waits on the
guest: the socket is non-blocking and served by the event loop; what the host sends is
a few control frames, coalesced (behind an unread frame, one frame of each kind waits,
the latest), so a guest that stops reading cannot make the host buffer; what the guest
sends is decoded by a bounded decoder that drops and counts malformed frames, and read
at a bounded rate, so a flooding guest cannot take the host's time.  The guest's exit
is noticed through a pidfd, never by waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

from .. import channel
from .balloon import MEMORY_STAT_TAGS, PAGE_SHIFT, STAT_NAMES
from .machine_qapi import BalloonDriverState

# Frames read from the guest per second at most; past it the host stops reading the
# guest's socket until the next second (a flooding guest only floods itself).
MAX_FRAMES_PER_SECOND = 200
# Host -> guest bytes held for a guest that does not read (control frames only).
MAX_OUTGOING = 4096
READ_CHUNK = 16384


def _find_prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):  # not Linux: the guest's own parent watch remains
        return None


# Looked up here, in the parent: between fork and exec only the call itself runs.
_PRCTL = _find_prctl()
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child before exec: have the kernel SIGKILL it when this process dies.

    Set before the guest runs a single instruction, so that even a guest frozen by
    ``stop`` at once (SIGSTOP reaches it before it could arrange this itself) does not
    outlive a machine that is killed.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


class GuestEvents:
    """What the link reports to the machine (callbacks, all on the event loop)."""

    def __init__(
        self,
        on_actual: Callable[[int], None],
        on_stats: Callable[[list[tuple[int, int]]], None],
        on_exit: Callable[[int], None],
    ) -> None:
        self.on_actual = on_actual
        self.on_stats = on_stats
        self.on_exit = on_exit


class GuestLink:
    """One guest process at a time, and its channel."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        ram_size: int,
        events: GuestEvents,
        fault: str | None = None,
    ) -> None:
        self.loop = loop
        self.ram_size = ram_size
        self.events = events
        self.fault = fault
        self.process: subprocess.Popen[bytes] | None = None
        self.frozen = False
        self.driver_ready = False  # this guest's driver has said READY
        self.exited = False  # the last guest ended by itself, and no fresh one started
        self._malformed_before = 0  # malformed frames of earlier guests, and lies
        self._sock: socket.socket | None = None
        self._pidfd = -1
        self._decoder = channel.FrameDecoder(_GUEST_TYPES)
        self._outgoing = bytearray()  # a frame the guest has not read all of yet
        self._pending: dict[int, bytes] = {}  # frames waiting behind it, one per kind
        self._writer_added = False
        self._resume_timer: asyncio.TimerHandle | None = None
        self._frames_this_second = 0
        self._second = 0
        self._reading_paused = False
        self._held: dict[int, channel.Frame] = {}  # frames over budget, one per type

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self.process is not None

    @property
    def driver_state(self) -> BalloonDriverState:
        """The balloon driver as the host sees it (``query-balloon-stats``' ``driver``)."""
        if self.exited:
            return "gone"
        if self.process is None or not self.driver_ready:
            return "absent"
        return "frozen" if self.frozen else "ready"

    @property
    def malformed_frames(self) -> int:
        """Frames dropped as malformed or impossible, over every guest run so far."""
        return self._malformed_before + self._decoder.dropped + self._decoder.bad_magic

    def start(self) -> None:
        """Start a fresh guest (after stopping the current one, if any)."""
        self.kill()
        host_end, guest_end = socket.socketpair()
        argv = [
            sys.executable,
            "-m",
            "pyqmp.guest",
            "--fd",
            str(guest_end.fileno()),
            "--ram",
            str(self.ram_size),
        ]
        if self.fault and self.fault != "none":
            argv += ["--fault", self.fault]
        self.fault = None  # a fault is the guest's, not the machine's: fresh guests behave
        try:
            process = subprocess.Popen(
                argv,
                pass_fds=[guest_end.fileno()],
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
            self._pidfd = os.pidfd_open(process.pid)
        except BaseException:
            host_end.close()
            raise
        finally:
            guest_end.close()
        self.process = process
        host_end.setblocking(False)
        self._sock = host_end
        self._malformed_before = self.malformed_frames
        self._decoder = channel.FrameDecoder(_GUEST_TYPES)
        self.frozen = False
        self.driver_ready = False
        self.exited = False
        self.loop.add_reader(host_end.fileno(), self._readable)
        self.loop.add_reader(self._pidfd, self._process_exited)

    def kill(self) -> None:
        """Stop the current guest at once (no exit is reported for it)."""
        process = self.process
        self._close_channel()
        if self._pidfd >= 0:
            self.loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1
        if process is not None:
            self.process = None
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            self._reap(process, 100)

    def _reap(self, process: subprocess.Popen[bytes], tries: int) -> None:
        # SIGKILL is immediate, but the exit is collected later, never waited for
        if process.poll() is None and tries > 0:
            self.loop.call_later(0.05, self._reap, process, tries - 1)

    def freeze(self) -> None:
        if self.process is not None and not self.frozen:
            os.kill(self.process.pid, signal.SIGSTOP)
            self.frozen = True

    def thaw(self) -> None:
        if self.process is not None and self.frozen:
            os.kill(self.process.pid, signal.SIGCONT)
            self.frozen = False

    def _process_exited(self) -> None:
        process = self.process
        if process is None:
            return
        status = process.poll()
        if status is None:
            return
        self.process = None
        self.loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        self._drain_and_close()
        self.driver_ready = False
        self.exited = True
        self.events.on_exit(status)

    # -- host -> guest -------------------------------------------------------------------

    def set_target(self, pages: int) -> None:
        """Ask for ``pages`` in the balloon."""
        self._queue(channel.SET_TARGET, channel.encode_set_target(pages))

    def request_stats(self) -> bool:
        """Ask for stats; False if there is no guest to ask."""
        return self._queue(channel.STATS_REQUEST, channel.encode_stats_request())

    def powerdown(self) -> None:
        self._queue(channel.POWERDOWN, channel.encode_powerdown())

    def set_fault(self, mode: str) -> None:
        """Make the current guest misbehave; with no guest running, the next one."""
        if self._sock is None:
            self.fault = mode
            return
        self._queue(channel.SET_FAULT, channel.encode_set_fault(channel.FAULT_MODES[mode]))

    def _queue(self, kind: int, frame: bytes) -> bool:
        """Send ``frame`` once what was sent before is read.  Until then one frame of
        each kind waits, the latest: a guest that does not read holds the host to a
        few bytes, however often it is asked."""
        if self._sock is None:
            return False
        self._pending.pop(kind, None)
        self._pending[kind] = frame
        self._flush()
        return True

    def _flush(self) -> None:
        sock = self._sock
        while sock is not None and self._pending and not self._outgoing:
            kind = next(iter(self._pending))
            frame = self._pending.pop(kind)
            try:
                sent = sock.send(frame)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close_channel()
                return
            if sent < len(frame):
                self._outgoing += frame[sent:]
                self.loop.add_writer(sock.fileno(), self._writable)
                self._writer_added = True

    def _writable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sent = sock.send(self._outgoing)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close_channel()
            return
        del self._outgoing[:sent]
        if not self._outgoing:
            self.loop.remove_writer(sock.fileno())
            self._writer_added = False
            self._flush()

    # -- guest -> host -------------------------------------------------------------------

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            data = sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close_channel()
            return
        self._handle(self._decoder.feed(data))

    def _handle(self, frames: list[channel.Frame]) -> None:
        for index, frame in enumerate(frames):
            if not self._count_frame():
                self._hold_back(frames[index:])
                break
            self._apply(frame)

    def _hold_back(self, frames: list[channel.Frame]) -> None:
        """Frames over this second's budget wait for the next one — coalesced, since a
        later report of a kind supersedes an earlier one: at most one of each is held."""
        for frame in frames:
            self._held[frame.type] = frame

    def _apply(self, frame: channel.Frame) -> None:
        if frame.type == channel.ACTUAL:
            pages = channel.decode_u64(frame.payload)
            if pages << PAGE_SHIFT > self.ram_size:
                self._malformed_before += 1  # a balloon bigger than the RAM: a lie
                return
            self.events.on_actual(pages)
        elif frame.type == channel.STATS:
            self.events.on_stats(self._plausible(channel.decode_stats(frame.payload)))
        elif frame.type == channel.READY:
            self.driver_ready = True

    def _plausible(self, entries: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Entries with known tags and possible values; the others are counted."""
        kept = []
        for tag, value in entries:
            if tag >= len(STAT_NAMES) or (tag in MEMORY_STAT_TAGS and value > self.ram_size):
                self._malformed_before += 1
            else:
                kept.append((tag, value))
        return kept

    def _count_frame(self) -> bool:
        now = int(time.monotonic())
        if now != self._second:
            self._second = now
            self._frames_this_second = 0
        self._frames_this_second += 1
        if self._frames_this_second <= MAX_FRAMES_PER_SECOND:
            return True
        if not self._reading_paused and self._sock is not None:
            self._reading_paused = True
            self.loop.remove_reader(self._sock.fileno())
            self._resume_timer = self.loop.call_later(1.0, self._resume_reading)
        return False

    def _resume_reading(self) -> None:
        self._resume_timer = None
        self._reading_paused = False
        held = sorted(self._held.values(), key=lambda frame: _APPLY_ORDER[frame.type])
        self._held.clear()
        self._handle(held)
        if self._sock is not None and not self._reading_paused:
            self.loop.add_reader(self._sock.fileno(), self._readable)

    def _drain_and_close(self) -> None:
        """The guest is gone: read what it sent last (bounded), then close."""
        sock = self._sock
        if sock is not None and not self._reading_paused:
            for _ in range(16):
                try:
                    data = sock.recv(READ_CHUNK)
                except OSError:
                    break
                if not data:
                    break
                self._handle(self._decoder.feed(data))
        self._close_channel()

    def _close_channel(self) -> None:
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        if not self._reading_paused:
            self.loop.remove_reader(sock.fileno())
        self._reading_paused = False
        if self._resume_timer is not None:  # what a gone guest sent is not delivered
            self._resume_timer.cancel()
            self._resume_timer = None
        self._held.clear()
        if self._writer_added:
            self.loop.remove_writer(sock.fileno())
            self._writer_added = False
        self._outgoing.clear()
        self._pending.clear()
        sock.close()


_GUEST_TYPES = frozenset((channel.READY, channel.ACTUAL, channel.STATS))
_APPLY_ORDER = {channel.READY: 0, channel.ACTUAL: 1, channel.STATS: 2}
