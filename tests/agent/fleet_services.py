"""Real processes for the agent's end-to-end tests: nats-server, prometheus, the agent,
a simulated fleet.

Each is started on 127.0.0.1 (a free port, or port 0 where the program can say which it
got) or on unix sockets in a private directory, waited for with a deadline, and stopped
by its PID (SIGTERM, then SIGKILL).  nats-server and prometheus are Debian's packages,
installed by tools/setup.sh; a missing one fails the test with how to fix it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0


def require_program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed; run the tests with ./test.sh, which installs "
            "it (tools/setup.sh)",
            pytrace=False,
        )
    return found


def free_port() -> int:
    """A port free on 127.0.0.1 now (for programs that cannot be told port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``condition()`` until it returns something true; fail after ``timeout``.
    OSError, ValueError and KeyError mean "not yet"; an AssertionError fails at once."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = condition()
        except (OSError, ValueError, KeyError) as error:
            last = error
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {last!r:.500})")
        time.sleep(interval)


class Process:
    """A child process with its output in a temporary file; stopped by its PID."""

    def __init__(self, argv: list[str], name: str) -> None:
        self.name = name
        self.argv = argv
        self._output: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop()
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    def wait_output(self, text: str, timeout: float = START_TIMEOUT) -> str:
        """The first output line containing ``text``."""

        def find() -> str | None:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited ({self.process.returncode}): {self.output()[-3000:]}"
                )
            for line in self.output().splitlines():
                if text in line:
                    return line
            return None

        return str(wait_until(find, timeout, f"{self.name} printing {text!r}"))

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)  # a frozen process cannot act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        self._output.close()


class NatsServer:
    """Debian's nats-server on 127.0.0.1; ``port`` None picks one (it writes a ports file)."""

    def __init__(self, directory: str, port: int | None = None) -> None:
        self.directory = directory
        binary = require_program("nats-server")
        ports_dir = tempfile.mkdtemp(dir=directory, prefix="nats-ports-")
        argv = [
            binary,
            "-a",
            "127.0.0.1",
            "-p",
            str(port if port is not None else -1),
            "--ports_file_dir",
            ports_dir,
        ]
        self.process = Process(argv, "nats-server")
        ports_file = Path(ports_dir) / f"nats-server_{self.process.pid}.ports"

        def read_url() -> str | None:
            if self.process.process.poll() is not None:
                raise AssertionError(f"nats-server exited: {self.process.output()[-2000:]}")
            if not ports_file.exists():
                return None
            urls = json.loads(ports_file.read_text()).get("nats") or []
            return str(urls[0]) if urls else None

        try:
            self.url: str = wait_until(read_url, START_TIMEOUT, "nats-server's ports file")
        except BaseException:
            self.process.stop()
            raise
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        self.process.stop()


class AgentProcess:
    """``pyqmp agent`` with metrics on a port of its choosing."""

    def __init__(self, *options: str) -> None:
        argv = [sys.executable, "-m", "pyqmp", "agent", "--metrics", "127.0.0.1:0", *options]
        self.process = Process(argv, "pyqmp agent")
        try:
            line = self.process.wait_output("metrics on http://")
        except BaseException:
            self.process.stop()
            raise
        self.url = line.split("metrics on ", 1)[1].strip()

    def scrape(self) -> str:
        with urllib.request.urlopen(self.url, timeout=HTTP_TIMEOUT) as answer:
            return str(answer.read().decode())

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every sample of one scrape: (name, labels) -> value."""
        found = {}
        for family in text_string_to_metric_families(self.scrape()):
            for sample in family.samples:
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return found

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples().get((name, frozenset(labels.items())))

    def vms(self, name: str = "qemu_up") -> dict[str, float]:
        """vm -> value of a per-VM metric."""
        return {
            dict(labels)["vm"]: value
            for (metric, labels), value in self.samples().items()
            if metric == name
        }

    def stop(self) -> None:
        self.process.stop()


class SimFleet:
    """``pyqmp sim-fleet DIR --count N`` (more options as given)."""

    def __init__(self, directory: str, count: int, *options: str) -> None:
        argv = [
            sys.executable,
            "-m",
            "pyqmp",
            "sim-fleet",
            directory,
            "--count",
            str(count),
            *options,
        ]
        self.process = Process(argv, "pyqmp sim-fleet")
        try:
            self.process.wait_output("machines in")
        except BaseException:
            self.process.stop()
            raise

    def stop(self) -> None:
        self.process.stop()


class Prometheus:
    """Debian's prometheus, scraping ``targets`` every second."""

    def __init__(self, directory: str, targets: list[str]) -> None:
        binary = require_program("prometheus")
        config = Path(directory) / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: pyqmp-agent\n    static_configs:\n"
            f"      - targets: {json.dumps(targets)}\n"
        )
        last_error = ""
        for _ in range(3):  # a picked port can be taken by someone else meanwhile
            self.port = free_port()
            argv = [
                binary,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.tsdb.path={tempfile.mkdtemp(dir=directory, prefix='tsdb-')}",
            ]
            self.process = Process(argv, "prometheus")
            try:
                wait_until(self._ready, START_TIMEOUT, "prometheus ready")
                return
            except AssertionError as error:
                last_error = str(error)
                self.process.stop()
        raise AssertionError(f"prometheus did not start: {last_error}")

    def _ready(self) -> bool:
        if self.process.process.poll() is not None:
            raise AssertionError(f"prometheus exited: {self.process.output()[-2000:]}")
        url = f"http://127.0.0.1:{self.port}/-/ready"
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as answer:
            return bool(answer.status == 200)

    def query(self, expression: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expression}
        )
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as answer:
            body = json.loads(answer.read())
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def stop(self) -> None:
        self.process.stop()


# -- NATS from the test's side ---------------------------------------------------------------


def nats_request(url: str, subject: str, payload: Any, timeout: float = 10.0) -> Any:
    """One request/reply on NATS; ``payload`` is JSON-encoded unless it is bytes."""
    import asyncio

    import nats

    async def ask() -> Any:
        client = await nats.connect(url, allow_reconnect=False)
        try:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            reply = await client.request(subject, data, timeout=timeout)
            return json.loads(reply.data)
        finally:
            await client.close()

    return asyncio.run(ask())


def request_and_event(
    url: str, subject: str, payload: Any, event_subject: str, timeout: float = 10.0
) -> tuple[Any, Any]:
    """Subscribe to ``event_subject``, then send a request: the reply and the first event."""
    import asyncio

    import nats

    async def ask() -> tuple[Any, Any]:
        client = await nats.connect(url, allow_reconnect=False)
        try:
            events = await client.subscribe(event_subject)
            await client.flush()
            reply = await client.request(subject, json.dumps(payload).encode(), timeout=timeout)
            event = await events.next_msg(timeout=timeout)
            return json.loads(reply.data), json.loads(event.data)
        finally:
            await client.close()

    return asyncio.run(ask())


def requests_in_arrival_order(
    url: str, requests: list[tuple[str, Any]], timeout: float = 10.0
) -> list[tuple[int, Any]]:
    """Send every (subject, payload) request at once: (index, reply) as the replies arrive."""
    import asyncio

    import nats

    async def ask() -> list[tuple[int, Any]]:
        client = await nats.connect(url, allow_reconnect=False)
        arrived: list[tuple[int, Any]] = []

        async def one(index: int, subject: str, payload: Any) -> None:
            reply = await client.request(subject, json.dumps(payload).encode(), timeout=timeout)
            arrived.append((index, json.loads(reply.data)))

        try:
            await asyncio.gather(
                *(one(index, subject, payload) for index, (subject, payload) in enumerate(requests))
            )
            return arrived
        finally:
            await client.close()

    return asyncio.run(ask())
