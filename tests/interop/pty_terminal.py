"""A program on a pseudo-terminal, as a person uses it: type into it, wait for text on its
screen.  Every wait is bounded; the program is stopped by its PID."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time
from collections.abc import Mapping
from contextlib import suppress

READ_TIMEOUT_SECONDS = 10.0
ROWS, COLUMNS = 50, 200  # wide enough that no typed line wraps
# What a terminal does but does not show: escape sequences (colour, cursor moves, modes).
_CONTROL = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r")


class Terminal:
    """A program on a pseudo-terminal: type into it, wait for text on its screen."""

    def __init__(self, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            os.environ["TERM"] = "dumb"
            os.environ.update(env or {})
            os.execv(argv[0], argv)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.screen = b""
        self.status: int | None = None

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def text(self) -> str:
        """What was shown so far, without escape sequences and carriage returns."""
        return _CONTROL.sub(b"", self.screen).decode(errors="replace")

    def wait_for(
        self,
        text: str,
        timeout: float = READ_TIMEOUT_SECONDS,
        *,
        plain: bool = False,
        then: str | None = None,
    ) -> str:
        """Wait until ``text`` is on the screen (``plain``: once escape sequences are
        removed), and ``then`` after it if given; return the screen."""
        deadline = time.monotonic() + timeout
        wanted = text.encode()
        after = then.encode() if then is not None else b""

        def seen() -> bool:
            screen = _CONTROL.sub(b"", self.screen) if plain else self.screen
            found = screen.find(wanted)
            return found >= 0 and (not after or after in screen[found + len(wanted) :])

        while not seen():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} never appeared; screen:\n{self.screen[-2000:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(
                        f"{text!r} never appeared; the program ended:\n{self.screen[-2000:]!r}"
                    )
                self.screen += chunk
        return self.screen.decode(errors="replace")

    def wait_exit(self, timeout: float = READ_TIMEOUT_SECONDS) -> int:
        """The program's exit status, once it has ended (reading its screen meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                with suppress(OSError):
                    self.screen += os.read(self.fd, 65536)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
        raise AssertionError(f"the program did not end; screen:\n{self.screen[-2000:]!r}")

    def close(self) -> None:
        if self.status is None:
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.05)
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        os.close(self.fd)
