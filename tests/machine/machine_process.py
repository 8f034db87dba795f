"""A real `pyqmp machine` process for end-to-end tests: its monitors, its guest, its cost.

The machine is started with unix monitors in a private temporary directory, and every wait
has a deadline.  The guest is found as the machine's child process in /proc (the machine
starts it in a session of its own, so it is not in the test's process group).  Closing kills
the machine by its PID and then checks that every guest it ever had exits by itself, as a
guest must when its machine goes; a guest that survives is killed by its PID (recorded with
its start time, so a reused PID is never hit) and reported.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT = 20.0
READ_TIMEOUT = 10.0
EXIT_TIMEOUT = 10.0
GUEST_EXIT_TIMEOUT = 5.0
BALLOON = "/machine/peripheral/balloon0"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Message = dict[str, Any]

# Runs `pyqmp machine` with its guest replaced by a scripted one: the machine starts its guest
# as `sys.executable -m pyqmp.guest --fd N --ram BYTES ...`, so an executable script put in
# sys.executable's place gets exactly the guest's command line and channel.
SCRIPTED_GUEST_SHIM = (
    "import sys; sys.executable = sys.argv[1]; "
    "from pyqmp.cli.entry import main; raise SystemExit(main(sys.argv[2:]))"
)


class MachineGone(Exception):
    """The machine closed a monitor or did not answer in time."""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3 is index 0), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_state(pid: int) -> str | None:
    """The one-letter state (R, S, T, Z, ...), or None if there is no such process."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def children_of(pid: int) -> list[int]:
    """Live (non-zombie) child processes of ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields and int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


class Monitor:
    """A raw QMP connection: requests with ids, replies matched by id, events kept."""

    def __init__(self, path: str, timeout: float = READ_TIMEOUT) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buffer = b""
        self.events: list[tuple[float, Message]] = []  # (monotonic arrival, event)
        self._next_id = 0
        greeting = self.read()
        assert "QMP" in greeting, greeting
        assert self.execute("qmp_capabilities") == {"return": {}}

    def close(self) -> None:
        self.sock.close()

    def read(self, deadline: float | None = None) -> Message:
        while b"\n" not in self.buffer:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no message before the deadline")
                self.sock.settimeout(min(remaining, READ_TIMEOUT))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise
            except OSError as error:
                raise MachineGone(f"monitor failed: {error!r}") from error
            finally:
                if deadline is not None:
                    self.sock.settimeout(READ_TIMEOUT)
            if not chunk:
                raise MachineGone("the machine closed the monitor")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message = json.loads(line)
        assert isinstance(message, dict), line
        return message

    def send(self, command: str, arguments: dict[str, Any] | None = None) -> str:
        self._next_id += 1
        request_id = f"r{self._next_id}"
        request: Message = {"execute": command, "id": request_id}
        if arguments is not None:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        return request_id

    def reply_to(self, request_id: str) -> Message:
        """The reply with ``request_id``; events on the way are kept."""
        while True:
            message = self.read()
            if "event" in message:
                self.events.append((time.monotonic(), message))
                continue
            assert message.get("id") == request_id, (request_id, message)
            del message["id"]
            return message

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Message:
        return self.reply_to(self.send(command, arguments))

    def value(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """The ``return`` of a command that must succeed."""
        reply = self.execute(command, arguments)
        assert "return" in reply, (command, arguments, reply)
        return reply["return"]

    def collect_events(self, seconds: float) -> None:
        """Read events for ``seconds`` (bounded), keeping them."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                message = self.read(deadline)
            except TimeoutError:
                return
            assert "event" in message, message
            self.events.append((time.monotonic(), message))

    def wait_event(self, name: str, timeout: float) -> Message:
        """The first kept or new event called ``name``, within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for _, event in self.events:
                if event["event"] == name:
                    return event
            try:
                message = self.read(deadline)
            except TimeoutError:
                raise AssertionError(f"no {name} event within {timeout} s") from None
            assert "event" in message, message
            self.events.append((time.monotonic(), message))

    def event_times(self, name: str) -> list[float]:
        return [at for at, event in self.events if event["event"] == name]


class MachineProcess:
    """`pyqmp machine` with ``monitors`` unix monitors; use as a context manager."""

    def __init__(
        self,
        *options: str,
        monitors: int = 4,
        guest_program: str | None = None,
        monitor_options: list[str] | None = None,
    ) -> None:
        """``monitor_options[i]`` is appended to monitor i's address (``,read-only=on``)."""
        self._directory = tempfile.TemporaryDirectory(prefix="pyqmp-e2e-")
        self.directory = self._directory.name
        self.sockets = [
            os.path.join(self.directory, f"qmp{index}.sock") for index in range(monitors)
        ]
        if guest_program is None:
            argv = [sys.executable, "-m", "pyqmp", "machine", *options]
        else:
            argv = [sys.executable, "-c", SCRIPTED_GUEST_SHIM, guest_program, "machine", *options]
        suffixes = monitor_options or [""] * monitors
        for path, suffix in zip(self.sockets, suffixes, strict=True):
            argv += ["--qmp", f"unix:{path}{suffix}"]
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in close()
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid
        self.monitors: list[Monitor] = []
        self.guests_seen: dict[int, int | None] = {}  # pid -> start time
        self.surviving_guests: list[int] = []
        try:
            self._wait_listening()
            self.monitors = [Monitor(path) for path in self.sockets]
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> MachineProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not all(os.path.exists(path) for path in self.sockets):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"pyqmp machine did not start: {self.output()[-2000:]}")
            time.sleep(0.02)

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    # -- the guest -----------------------------------------------------------------------

    def guest_pids(self) -> list[int]:
        """The machine's live guest processes now (remembered for the exit check)."""
        pids = children_of(self.pid)
        for pid in pids:
            self.guests_seen.setdefault(pid, start_time(pid))
        return pids

    def wait_guest(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.guest_pids()
            if pids:
                return pids[0]
            time.sleep(0.02)
        raise AssertionError(f"the machine started no guest within {timeout} s")

    # -- cost --------------------------------------------------------------------------------

    def cpu_seconds(self) -> float:
        """User + system CPU time of the machine process (all its threads)."""
        fields = _stat_fields(self.pid)
        assert fields is not None, "the machine is gone"
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def peak_rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc status")

    # -- the end -----------------------------------------------------------------------------

    def close(self) -> None:
        """Kill the machine by its PID; every guest it had must then exit by itself."""
        if self.process.poll() is None:
            self.guest_pids()
        for monitor in self.monitors:
            monitor.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(EXIT_TIMEOUT)
        deadline = time.monotonic() + GUEST_EXIT_TIMEOUT
        alive = self._live_guests()
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = self._live_guests()
        for pid in alive:  # only our machine's guests, checked by start time
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.surviving_guests = alive
        self._output.close()
        self._directory.cleanup()

    def _live_guests(self) -> list[int]:
        alive = []
        for pid, started in self.guests_seen.items():
            state = process_state(pid)
            if state is not None and state != "Z" and start_time(pid) == started:
                alive.append(pid)
        return alive
