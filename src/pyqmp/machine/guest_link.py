"""The host end of the guest, as I/O: its process, and the socket to the channel engine.

The guest is a separate process (``python -m pyqmp.guest``) joined by a socketpair that
carries the framed protocol of :mod:`pyqmp.channel`.  Everything about what crosses the
socket — coalescing what the host sends, the read budget, dropping malformed frames and
impossible values — is the sans-IO :class:`~.guest_channel.GuestChannel`'s; this module
only starts, freezes, thaws and kills the process, moves bytes between the socket and the
engine on the event loop, and notices the guest's exit through a pidfd.  Its one rule:
nothing here ever waits on the guest (the socket is non-blocking, the exit is never
waited for).
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
from .guest_channel import Actual, GuestChannel, Report
from .machine_qapi import BalloonDriverState

READ_CHUNK = 16384
# Reads of what a guest sent just before it exited (each READ_CHUNK at most).
LAST_READS = 16


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
    """One guest process at a time, and the I/O of its channel."""

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
        self.fault = fault  # for the next guest to start
        self.engine = GuestChannel(ram_size)
        self.process: subprocess.Popen[bytes] | None = None
        self.frozen = False
        self.exited = False  # the last guest ended by itself, and no fresh one started
        self._sock: socket.socket | None = None
        self._pidfd = -1
        self._writer_added = False
        self._resume_timer: asyncio.TimerHandle | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def driver_state(self) -> BalloonDriverState:
        """The balloon driver as the host sees it (``query-balloon-stats``' ``driver``)."""
        if self.exited:
            return "gone"
        if self.process is None or not self.engine.driver_ready:
            return "absent"
        return "frozen" if self.frozen else "ready"

    @property
    def malformed_frames(self) -> int:
        """Frames dropped as malformed or impossible, over every guest run so far."""
        return self.engine.dropped

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
        self.engine.open()
        self.frozen = False
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
        self.exited = True
        self.events.on_exit(status)

    # -- host -> guest -------------------------------------------------------------------

    def set_target(self, pages: int) -> None:
        """Ask for ``pages`` in the balloon."""
        self.engine.set_target(pages)
        self._flush()

    def request_stats(self) -> bool:
        """Ask for stats; False if there is no guest to ask."""
        asked = self.engine.request_stats()
        self._flush()
        return asked

    def powerdown(self) -> None:
        self.engine.powerdown()
        self._flush()

    def set_fault(self, mode: str) -> None:
        """Make the current guest misbehave; with no guest running, the next one."""
        if not self.engine.set_fault(channel.FAULT_MODES[mode]):
            self.fault = mode
            return
        self._flush()

    def _flush(self) -> None:
        """Write what the engine has to send until the socket takes no more."""
        sock = self._sock
        while sock is not None and (data := self.engine.data_to_send()):
            try:
                sent = sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close_channel()
                return
            self.engine.sent(sent)
            if sent < len(data):
                if not self._writer_added:
                    self.loop.add_writer(sock.fileno(), self._flush)
                    self._writer_added = True
                return
        if sock is not None and self._writer_added:
            self.loop.remove_writer(sock.fileno())
            self._writer_added = False

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
        self._received(data)

    def _received(self, data: bytes) -> None:
        self._deliver(self.engine.receive_data(data, time.monotonic()))
        self._pause_if_asked()

    def _pause_if_asked(self) -> None:
        # The guest spent its budget: stop reading its socket (a flooding guest only
        # floods itself) until the engine's pause is over.
        sock = self._sock
        if self.engine.reading_paused and sock is not None and self._resume_timer is None:
            self.loop.remove_reader(sock.fileno())
            self._resume_timer = self.loop.call_later(
                self.engine.limits.pause, self._resume_reading
            )

    def _resume_reading(self) -> None:
        self._resume_timer = None
        self._deliver(self.engine.resume(time.monotonic()))
        if self._sock is not None:
            if self.engine.reading_paused:
                self._pause_if_asked()
            else:
                self.loop.add_reader(self._sock.fileno(), self._readable)

    def _deliver(self, reports: list[Report]) -> None:
        for report in reports:
            if isinstance(report, Actual):
                self.events.on_actual(report.pages)
            else:
                self.events.on_stats(report.entries)

    def _drain_and_close(self) -> None:
        """The guest is gone: read what it sent last (bounded), then close."""
        sock = self._sock
        if sock is not None and not self.engine.reading_paused:
            for _ in range(LAST_READS):
                try:
                    data = sock.recv(READ_CHUNK)
                except OSError:
                    break
                if not data:
                    break
                # (past the read budget the engine holds frames, and closing drops them)
                self._deliver(self.engine.receive_data(data, time.monotonic()))
        self._close_channel()

    def _close_channel(self) -> None:
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        if self._resume_timer is not None:  # what a gone guest sent is not delivered
            self._resume_timer.cancel()
            self._resume_timer = None
        else:
            self.loop.remove_reader(sock.fileno())
        if self._writer_added:
            self.loop.remove_writer(sock.fileno())
            self._writer_added = False
        self.engine.close()
        sock.close()
