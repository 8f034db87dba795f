"""Targets: how to start a QMP server process on unix sockets and know when it listens.

A `Target` is one kind of server — real QEMU 7.2 (`QemuTarget`) or the reference machine,
`pyqmp machine` (`PyqmpTarget`) — described by its command line for a set of socket paths and
`MachineOptions` both understand.  `Target.start` returns a `TargetProcess` once every socket
listens (watching /proc/net/unix rather than probing: QEMU serves one client per socket and would
greet every probe), and stops it by its PID afterwards.  Every wait is bounded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

DEFAULT_QEMU_BINARY = "qemu-system-x86_64"
STARTUP_TIMEOUT_SECONDS = 20.0
CONNECT_TIMEOUT_SECONDS = 10.0
EXIT_TIMEOUT_SECONDS = 10.0


class TargetError(Exception):
    """The target could not be started or connected to (not: it answered unexpectedly)."""


@dataclass(frozen=True)
class MachineOptions:
    """What the machine under test is started with, in terms both implementations understand."""

    balloon: bool = True  # a virtio balloon device with id `balloon0`
    name: str | None = None
    uuid: str | None = None
    compat: tuple[str, ...] = ()  # -compat policies, in QEMU's syntax (pyqmp's --compat)


BALLOON_ID = "balloon0"
BALLOON_PATH = f"/machine/peripheral/{BALLOON_ID}"


class Target(ABC):
    """How to start one kind of QMP server process listening on the given unix sockets."""

    name: str

    @abstractmethod
    def argv(self, sockets: Sequence[str], options: MachineOptions) -> list[str]:
        """The command line serving one QMP monitor on each of `sockets`."""

    @contextmanager
    def start(
        self,
        sockets: Sequence[str],
        options: MachineOptions = MachineOptions(),
        timeout: float = STARTUP_TIMEOUT_SECONDS,
    ) -> Iterator[TargetProcess]:
        """Start the server, return once every socket listens; stop it (by PID) on exit."""
        argv = self.argv(sockets, options)
        with tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
            running = TargetProcess(self, argv, list(sockets), process, stderr)
            try:
                running.wait_listening(time.monotonic() + timeout)
                yield running
            finally:
                running.stop()


@dataclass
class QemuTarget(Target):
    """Real QEMU: q35 with TCG, paused before start (-S), no default devices."""

    binary: str = DEFAULT_QEMU_BINARY
    name: str = "qemu"

    def argv(self, sockets: Sequence[str], options: MachineOptions) -> list[str]:
        argv = [self.binary, "-M", "q35", "-accel", "tcg", "-S", "-nodefaults", "-display", "none"]
        if options.balloon:
            argv += ["-device", f"virtio-balloon-pci,id={BALLOON_ID}"]
        if options.name is not None:
            argv += ["-name", options.name]
        if options.uuid is not None:
            argv += ["-uuid", options.uuid]
        for policy in options.compat:
            argv += ["-compat", policy]
        for path in sockets:
            argv += ["-qmp", f"unix:{path},server=on,wait=off"]
        return argv


@dataclass
class PyqmpTarget(Target):
    """The reference machine, `pyqmp machine`, with its command line (README.md)."""

    python: str = sys.executable
    name: str = "pyqmp"

    def argv(self, sockets: Sequence[str], options: MachineOptions) -> list[str]:
        argv = [self.python, "-m", "pyqmp", "machine", "-S"]
        argv += ["--balloon", f"id={BALLOON_ID}" if options.balloon else "none"]
        if options.name is not None:
            argv += ["--name", options.name]
        if options.uuid is not None:
            argv += ["--uuid", options.uuid]
        for policy in options.compat:
            argv += ["--compat", policy]
        for path in sockets:
            argv += ["--qmp", f"unix:{path}"]
        return argv


def make_target(name: str, qemu_binary: str = DEFAULT_QEMU_BINARY) -> Target:
    """The target called `name` ("qemu" or "pyqmp")."""
    if name == "qemu":
        return QemuTarget(binary=qemu_binary)
    if name == "pyqmp":
        return PyqmpTarget()
    raise ValueError(f"unknown target {name!r}; expected 'qemu' or 'pyqmp'")


_SO_ACCEPTCON = 0x10000  # the "listening" flag of a socket in /proc/net/unix


def listening_unix_paths() -> set[str] | None:
    """Paths of listening unix sockets in this network namespace; None when /proc can't tell."""
    try:
        text = Path("/proc/net/unix").read_text()
    except OSError:
        return None
    paths = set()
    for line in text.splitlines()[1:]:
        fields = line.split(None, 7)
        if len(fields) == 8 and int(fields[3], 16) & _SO_ACCEPTCON:
            paths.add(fields[7])
    return paths


@dataclass
class TargetProcess:
    """A started target; every wait on it is bounded and it is only ever killed by its PID."""

    target: Target
    argv: list[str]
    sockets: list[str]
    process: subprocess.Popen[bytes]
    _stderr: IO[bytes]

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            raise TargetError(
                f"{self.target.name} exited with status {self.process.returncode} "
                f"before its QMP sockets listened: {self.argv}\n"
                f"{self.stderr_text()}"
            )

    def wait_listening(self, deadline: float) -> None:
        # Watching /proc/net/unix avoids probe connections: QEMU serves one client per socket
        # and would greet (and log) each probe.
        while True:
            self._check_alive()
            listening = listening_unix_paths()
            if listening is None:
                if all(os.path.exists(path) for path in self.sockets):
                    # No /proc: the socket file appears at bind(), listen() follows at once.
                    time.sleep(0.05)
                    return
            elif all(path in listening for path in self.sockets):
                return
            if time.monotonic() > deadline:
                raise TargetError(
                    f"{self.target.name}: QMP sockets {self.sockets} did not "
                    f"come up: {self.argv}\n{self.stderr_text()}"
                )
            time.sleep(0.005)

    def connect(self, index: int = 0, timeout: float = CONNECT_TIMEOUT_SECONDS) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.sockets[index])
        except OSError:
            sock.close()
            raise
        return sock

    def wait_exit(self, timeout: float = EXIT_TIMEOUT_SECONDS) -> int | None:
        """The exit status, or None if it is still running after `timeout`."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            if self.wait_exit(EXIT_TIMEOUT_SECONDS) is None:
                self.process.kill()
                self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)


def monitors(target: Target, count: int) -> Iterator[TargetProcess]:
    """``target`` running with ``count`` monitors, stopped (by PID) afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"pyqmp-{target.name}-") as directory:
        sockets = [os.path.join(directory, f"qmp{index}.sock") for index in range(count)]
        with target.start(sockets) as process:
            yield process
