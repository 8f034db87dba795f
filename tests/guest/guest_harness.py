"""Drive a real guest process (``python -m pyqmp.guest``) over a real socketpair.

The test plays the host: it sends frames made with the channel encoders and decodes what
comes back with the channel's decoder.  Every wait has a deadline; the process is killed
(by its own pid) if a test leaves it running.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from types import TracebackType

from pyqmp.channel import (
    ACTUAL,
    GUEST_TO_HOST_TYPES,
    STATS,
    Frame,
    FrameDecoder,
    decode_stats,
    decode_u64,
)
from pyqmp.machine.guest_link import die_with_parent

SRC = Path(__file__).resolve().parents[2] / "src"
MIB = 1024 * 1024


def read_rss(pid: int) -> int:
    """Resident memory of ``pid`` in bytes (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def read_state(pid: int) -> str:
    """The one-letter process state from /proc (R, S, T, Z, ...)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


class GuestProcess:
    """A guest process and the host end of its channel."""

    def __init__(self, ram: int = 256 * MIB, fault: str | None = None) -> None:
        host, guest = socket.socketpair()
        self.ram = ram
        self.pages = ram // 4096
        self.channel = host
        self.decoder = FrameDecoder(GUEST_TO_HOST_TYPES)
        self.received: deque[Frame] = deque()
        self.raw_bytes = 0
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- lives as long as the guest
        argv = [sys.executable, "-m", "pyqmp.guest", "--fd", str(guest.fileno()), "--ram", str(ram)]
        if fault is not None:
            argv += ["--fault", fault]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            argv,
            pass_fds=[guest.fileno()],
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # a guest a test froze must not outlive the test
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env=env,
        )
        guest.close()
        self.pid = self.process.pid

    def __enter__(self) -> GuestProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)  # a stopped process must be able to die
            self.process.kill()
        self.process.wait(timeout=10)
        self.channel.close()
        self._stderr.close()

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    # -- talking ------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.channel.sendall(data)

    def pump(self, timeout: float) -> bool:
        """Read what arrives within ``timeout`` (at most one recv); False at EOF."""
        readable, _, _ = select.select([self.channel], [], [], max(0.0, timeout))
        if not readable:
            return True
        try:
            data = self.channel.recv(256 * 1024)
        except ConnectionResetError:
            return False
        if not data:
            return False
        self.raw_bytes += len(data)
        self.received.extend(self.decoder.feed(data))
        return True

    def collect(self, duration: float) -> list[Frame]:
        """Every frame that arrives in the next ``duration`` seconds (and any queued)."""
        deadline = time.monotonic() + duration
        while (left := deadline - time.monotonic()) > 0:
            if not self.pump(left):
                break
        frames = list(self.received)
        self.received.clear()
        return frames

    def first_frames(self, count: int, timeout: float = 10.0) -> list[Frame]:
        """The first ``count`` frames the guest sends, waiting up to ``timeout`` for them."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(left):
                raise AssertionError(
                    f"{len(self.received)} of {count} frames within {timeout} s; "
                    f"guest stderr: {self.stderr()!r}"
                )
        return [self.received.popleft() for _ in range(count)]

    def count_until(self, frame_type: int, count: int, timeout: float = 10.0) -> int:
        """Read until ``count`` frames of ``frame_type`` have come (AssertionError if not)."""
        seen = 0
        deadline = time.monotonic() + timeout
        while seen < count:
            while self.received:
                seen += self.received.popleft().type == frame_type
            left = deadline - time.monotonic()
            if seen >= count:
                break
            if left <= 0 or not self.pump(left):
                raise AssertionError(
                    f"{seen} of {count} frames of type {frame_type} within {timeout} s"
                )
        return seen

    def until_quiet(self, frame_type: int, quiet: float, timeout: float = 10.0) -> None:
        """Read until no frame of ``frame_type`` has come for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() - last < quiet:
            if time.monotonic() > deadline:
                raise AssertionError(f"frames of type {frame_type} still coming after {timeout} s")
            self.pump(0.05)
            while self.received:
                if self.received.popleft().type == frame_type:
                    last = time.monotonic()

    def wait_rss_below(self, limit: float, timeout: float = 10.0) -> int:
        """The guest's RSS once it is below ``limit`` bytes (AssertionError if it stays up)."""
        deadline = time.monotonic() + timeout
        while (rss := self.rss()) >= limit:
            if time.monotonic() > deadline:
                raise AssertionError(f"RSS {rss} still >= {limit} after {timeout} s")
            self.pump(0.05)
        return rss

    def expect(self, frame_type: int, timeout: float = 5.0) -> Frame:
        """The next frame of ``frame_type`` (others before it are discarded)."""
        deadline = time.monotonic() + timeout
        while True:
            while self.received:
                frame = self.received.popleft()
                if frame.type == frame_type:
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no frame of type {frame_type} within {timeout} s; "
                    f"guest stderr: {self.stderr()!r}"
                )
            if not self.pump(left):
                raise AssertionError(
                    f"EOF while waiting for frame type {frame_type}; "
                    f"guest stderr: {self.stderr()!r}"
                )

    def wait_actual(self, pages: int, timeout: float = 5.0) -> list[int]:
        """ACTUAL values up to the one equal to ``pages``."""
        seen: list[int] = []
        deadline = time.monotonic() + timeout
        while not seen or seen[-1] != pages:
            frame = self.expect(ACTUAL, max(0.0, deadline - time.monotonic()))
            seen.append(decode_u64(frame.payload))
        return seen

    def expect_stats(self, timeout: float = 5.0) -> dict[int, int]:
        return dict(decode_stats(self.expect(STATS, timeout).payload))

    def wait_exit(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def rss(self) -> int:
        return read_rss(self.pid)

    def state(self) -> str:
        return read_state(self.pid)
