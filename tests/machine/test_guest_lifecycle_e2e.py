"""The machine's guest is a real process, and the machine's states act on it for real.

Through QMP only: ballooning moves the guest process's RSS (read from /proc), `stop`
freezes it (state T) while queries keep answering from what the host knows, `cont`
resumes stats updates and their events, `-S` holds the guest back until `cont`, and a
guest that shuts down leaves the machine up, ready to bring up a fresh guest.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

RAM = 512 << 20
BALLOON = "/machine/peripheral/balloon0"
TIMEOUT = 20.0


class Monitor:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.sock.settimeout(TIMEOUT)
        self.buffer = b""
        self.events: list[dict[str, Any]] = []
        assert "QMP" in self._read()
        assert self.execute("qmp_capabilities") == {}

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    def execute(self, command: str, **arguments: Any) -> Any:
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode())
        while True:
            message = self._read()
            if "event" in message:
                self.events.append(message)
                continue
            assert "return" in message, message
            return message["return"]

    def wait_event(self, name: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event["event"] == name:
                    return self.events.pop(index)
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                message = self._read()
            except TimeoutError:
                pytest.fail(f"no {name} event within {timeout} s")
            finally:
                self.sock.settimeout(TIMEOUT)
            if "event" in message:
                self.events.append(message)


class Machine:
    def __init__(self, process: subprocess.Popen[bytes], socket_path: str) -> None:
        self.process = process
        self.monitor = Monitor(socket_path)

    def guest_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def guest_pid(self) -> int:
        pids = wait_until(lambda: self.guest_pids() or None, "a guest process")
        assert len(pids) == 1, pids
        return int(pids[0])


def proc_status(pid: int, key: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{key} not in /proc/{pid}/status")


def rss(pid: int) -> int:
    return int(proc_status(pid, "VmRSS").split()[0]) * 1024


def wait_until(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"{what}: not within {timeout} s")


@contextmanager
def machine(*options: str) -> Iterator[Machine]:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "qmp.sock")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyqmp",
                "machine",
                "-m",
                f"{RAM >> 20}M",
                *options,
                "--qmp",
                f"unix:{path}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: os.path.exists(path), "the monitor socket")
            vm = Machine(process, path)
            yield vm
            guests = vm.guest_pids()
        finally:
            process.kill()
            process.wait(timeout=10)
        # the guest watches its parent: it must not outlive the machine
        for pid in guests:
            wait_until(
                lambda pid=pid: (
                    not Path(f"/proc/{pid}").exists() or proc_status(pid, "State").startswith("Z")
                ),
                f"guest {pid} to exit",
            )


def test_balloon_moves_the_guest_process_rss() -> None:
    with machine() as vm:
        qmp = vm.monitor
        pid = vm.guest_pid()
        wait_until(lambda: qmp.execute("query-balloon-stats")["driver"] == "ready", "driver")
        full = wait_until(lambda: rss(pid) if rss(pid) > RAM // 2 else None, "guest RAM touched")
        assert qmp.execute("balloon", value=RAM // 2) == {}  # returns at once
        wait_until(lambda: qmp.execute("query-balloon")["actual"] == RAM // 2, "actual at half")
        inflated = rss(pid)
        assert full - inflated >= 0.40 * RAM, (full, inflated)
        qmp.wait_event("BALLOON_CHANGE")
        assert qmp.execute("balloon", value=RAM) == {}
        wait_until(lambda: qmp.execute("query-balloon")["actual"] == RAM, "actual back at full")
        wait_until(lambda: rss(pid) > inflated + RAM // 8, "RSS growing back")


def test_stop_freezes_the_guest_and_queries_still_answer() -> None:
    with machine() as vm:
        qmp = vm.monitor
        pid = vm.guest_pid()
        qmp.execute("qom-set", path=BALLOON, property="guest-stats-polling-interval", value=1)
        qmp.wait_event("BALLOON_STATS_UPDATE")
        qmp.execute("stop")
        wait_until(lambda: proc_status(pid, "State").startswith("T"), "guest state T")
        frozen_at = qmp.execute("qom-get", path=BALLOON, property="guest-stats")["last-update"]
        # the host asks again at the next polling period, and the frozen guest cannot answer
        stats = wait_until(
            lambda: (s := qmp.execute("query-balloon-stats"))["request-outstanding"] and s,
            "a stats request outstanding",
        )
        assert qmp.execute("query-balloon")["actual"] == RAM
        assert stats["driver"] == "frozen"
        assert stats["last-update"] == frozen_at  # stats stopped updating
        assert stats["request-outstanding"] is True  # asked, no answer: the client can tell
        assert (
            qmp.execute("qom-get", path=BALLOON, property="guest-stats")["last-update"] == frozen_at
        )
        qmp.events = [event for event in qmp.events if event["event"] != "BALLOON_STATS_UPDATE"]
        qmp.execute("cont")
        wait_until(lambda: proc_status(pid, "State")[0] in "RS", "guest running again")
        update = qmp.wait_event("BALLOON_STATS_UPDATE")
        assert update["data"]["last-update"] > frozen_at
        assert qmp.execute("query-balloon-stats")["driver"] == "ready"


def test_prelaunch_holds_the_guest_until_cont() -> None:
    with machine("-S") as vm:
        qmp = vm.monitor
        time.sleep(0.5)
        assert vm.guest_pids() == []
        assert qmp.execute("query-balloon-stats")["driver"] == "absent"
        qmp.execute("cont")
        vm.guest_pid()
        wait_until(lambda: qmp.execute("query-balloon-stats")["driver"] == "ready", "driver")


def test_powerdown_shutdown_and_a_fresh_guest() -> None:
    with machine() as vm:
        qmp = vm.monitor
        first = vm.guest_pid()
        wait_until(lambda: qmp.execute("query-balloon-stats")["driver"] == "ready", "driver")
        qmp.execute("system_powerdown")
        shutdown = qmp.wait_event("SHUTDOWN")
        assert shutdown["data"] == {"guest": True, "reason": "guest-shutdown"}
        qmp.wait_event("STOP")
        assert qmp.execute("query-status")["status"] == "shutdown"
        assert qmp.execute("query-balloon")["actual"] == RAM  # the host still knows
        assert qmp.execute("query-balloon-stats")["driver"] == "gone"
        qmp.execute("cont")  # brings up a fresh guest
        second = vm.guest_pid()
        assert second != first
        assert qmp.execute("query-status")["status"] == "running"
        wait_until(lambda: qmp.execute("query-balloon-stats")["driver"] == "ready", "driver")


def test_a_crashed_guest_leaves_the_machine_up() -> None:
    with machine() as vm:
        qmp = vm.monitor
        vm.guest_pid()
        qmp.execute("x-guest-fault", mode="crash")
        shutdown = qmp.wait_event("SHUTDOWN")
        assert shutdown["data"] == {"guest": True, "reason": "guest-panic"}
        assert qmp.execute("query-status")["status"] == "shutdown"
        qmp.execute("system_reset")
        assert qmp.execute("query-status")["status"] == "prelaunch"
        qmp.execute("cont")
        vm.guest_pid()
        wait_until(lambda: qmp.execute("query-balloon-stats")["driver"] == "ready", "driver")


def test_a_fault_set_before_the_guest_runs_applies_to_it() -> None:
    with machine("-S") as vm:
        qmp = vm.monitor
        qmp.execute("x-guest-fault", mode="crash")  # no guest yet: the next one
        qmp.execute("cont")
        shutdown = qmp.wait_event("SHUTDOWN")
        assert shutdown["data"] == {"guest": True, "reason": "guest-panic"}
