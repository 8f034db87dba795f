"""Bad and hostile clients against `pyqmp machine`: the server stays up, other monitors are
unaffected, and memory stays bounded.

Each test starts the machine with two unix monitors (and a TCP one where needed), abuses one,
and checks that both still answer, that the error classes are QEMU's, and (where a client tries
to make the server buffer) that the machine's peak RSS stays under a bound.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from free_port import free_tcp_port

STARTUP_TIMEOUT = 20.0
READ_TIMEOUT = 10.0
# The engine keeps at most QEMU's 64 MiB token limit of one message; with the interpreter
# and everything else, the machine must stay well under this.
RSS_BOUND_BYTES = 400 << 20


class Client:
    """A raw QMP client on a socket, reading CRLF-terminated JSON lines."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(READ_TIMEOUT)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> dict[str, object]:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message = json.loads(line)
        assert isinstance(message, dict)
        return message

    def reply(self) -> dict[str, object]:
        """The next message that is not an event."""
        while True:
            message = self.read()
            if "event" not in message:
                return message

    def execute(self, command: str, **arguments: object) -> dict[str, object]:
        request: dict[str, object] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.send(json.dumps(request).encode() + b"\n")
        return self.reply()

    def negotiate(self) -> None:
        greeting = self.read()
        assert "QMP" in greeting
        assert self.execute("qmp_capabilities") == {"return": {}}

    def close(self) -> None:
        self.sock.close()


class Machine:
    def __init__(self, process: subprocess.Popen[bytes], sockets: list[str]) -> None:
        self.process = process
        self.sockets = sockets

    def connect(self, index: int = 0, negotiate: bool = True) -> Client:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(self.sockets[index])
        client = Client(sock)
        if negotiate:
            client.negotiate()
        return client

    def peak_rss(self) -> int:
        return self._status_bytes("VmHWM:")

    def rss(self) -> int:
        return self._status_bytes("VmRSS:")

    def _status_bytes(self, key: str) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {key} in /proc status")

    def alive(self) -> bool:
        return self.process.poll() is None


@contextmanager
def machine(*extra: str, monitors: int = 2) -> Iterator[Machine]:
    with tempfile.TemporaryDirectory() as directory:
        sockets = [os.path.join(directory, f"qmp{i}.sock") for i in range(monitors)]
        argv = [sys.executable, "-m", "pyqmp", "machine", "-S", *extra]
        for path in sockets:
            argv += ["--qmp", f"unix:{path}"]
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not all(os.path.exists(path) for path in sockets):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else b""
                    pytest.fail(f"pyqmp machine did not start: {output.decode()[-2000:]}")
                time.sleep(0.02)
            yield Machine(process, sockets)
        finally:
            process.kill()
            process.wait(timeout=10)


def assert_answers(client: Client, status: str = "prelaunch") -> None:
    """The monitor answers a query (after any further error replies bad input caused:
    like QEMU, one bad input can give several errors, e.g. one per excess nesting level)."""
    client.send(b'{"execute": "query-status", "id": "check"}\n')
    while True:
        reply = client.reply()
        if reply.get("id") == "check":
            break
        error = reply.get("error")
        assert isinstance(error, dict) and error["class"] == "GenericError", reply
    assert reply["return"] == {
        "running": status == "running",
        "singlestep": False,
        "status": status,
    }


BAD_INPUTS = [
    ("malformed JSON", b'{"execute": }\n', "GenericError"),
    ("invalid UTF-8", b'{"execute": "query-status\xff\xfe"}\n', "GenericError"),
    ("NUL bytes", b'\x00\x00{"execute"\x00: "x"}\n', "GenericError"),
    ("2000-deep nesting", b"[" * 2000 + b"]" * 2000 + b"\n", "GenericError"),
    (
        "integer beyond 64 bits",
        b'{"execute": "balloon", "arguments": {"value": ' + b"9" * 30 + b"}}\n",
        "GenericError",
    ),
    ("top-level array", b'[{"execute": "query-status"}]\n', "GenericError"),
    ("negotiation twice", b'{"execute": "qmp_capabilities"}\n', "CommandNotFound"),
    ("exec-oob without OOB", b'{"exec-oob": "query-status", "id": 1}\n', "GenericError"),
    ("unknown command", b'{"execute": "no-such-command"}\n', "CommandNotFound"),
]


@pytest.mark.parametrize(
    ("what", "data", "error_class"), BAD_INPUTS, ids=[what for what, _, _ in BAD_INPUTS]
)
def test_bad_input_gets_an_error_and_the_server_goes_on(
    what: str, data: bytes, error_class: str
) -> None:
    with machine() as vm:
        abused, other = vm.connect(0), vm.connect(1)
        abused.send(data)
        reply = abused.reply()
        error = reply.get("error")
        assert isinstance(error, dict), reply
        assert error["class"] == error_class
        assert_answers(abused)  # the connection goes on, as in QEMU
        assert_answers(other)
        assert vm.alive()


def test_before_negotiation_and_unknown_capability() -> None:
    with machine() as vm:
        client = vm.connect(0, negotiate=False)
        assert "QMP" in client.read()
        assert client.execute("query-status")["error"] == {
            "class": "CommandNotFound",
            "desc": "Expecting capabilities negotiation with 'qmp_capabilities'",
        }
        reply = client.execute("qmp_capabilities", enable=["bogus"])
        assert reply["error"] == {
            "class": "GenericError",
            "desc": "Parameter 'null' does not accept value 'bogus'",
        }
        assert client.execute("qmp_capabilities", enable=["oob"]) == {"return": {}}
        assert_answers(client)


def test_oversized_message_is_dropped_with_memory_bounded() -> None:
    """100 MB of one message that never ends: QEMU's token limit (64 MiB) drops it, the
    engine never holds more than that, and the monitor answers afterwards."""
    with machine() as vm:
        abused, other = vm.connect(0), vm.connect(1)
        chunk = b"x" * (1 << 20)
        abused.send(b'{"execute": "query-status", "arguments": {"pad": "')
        for _ in range(100):
            abused.send(chunk)
        abused.send(b'"}}\n')
        error = abused.reply()["error"]
        assert isinstance(error, dict)
        assert error["class"] == "GenericError"
        while True:  # what follows the dropped token is lexed afresh: skip its errors
            abused.send(b'{"execute": "query-status", "id": "after"}\n')
            reply = abused.reply()
            if reply.get("id") == "after":
                break
        assert_answers(other)
        assert vm.peak_rss() < RSS_BOUND_BYTES, vm.peak_rss()


def test_client_that_disconnects_mid_command() -> None:
    with machine() as vm:
        other = vm.connect(1)
        for _ in range(20):
            quitter = vm.connect(0)
            quitter.send(b'{"execute": "query-sta')
            quitter.close()
            quitter = vm.connect(0)
            quitter.send(b'{"execute": "query-status"}\n' * 50)
            quitter.close()  # with replies unread
        assert_answers(other)
        assert vm.alive()


def test_client_that_never_reads() -> None:
    """Pipelined requests with no reading: the server stops reading (backpressure) instead
    of buffering replies; events for it are dropped past a limit.  Memory stays bounded,
    and other monitors answer throughout."""
    with machine() as vm:
        hog, other = vm.connect(0), vm.connect(1)
        hog.sock.setblocking(False)
        request = b'{"execute": "query-qmp-schema"}\n' * 100
        sent = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sent < (200 << 20):
            try:
                sent += hog.sock.send(request)
            except BlockingIOError:
                break  # the server stopped reading: good
        assert sent < (200 << 20), "the server kept reading 200 MB of requests never answered"
        for _ in range(200):  # events the hog never reads
            other.execute("cont")
            other.execute("stop")
        assert_answers(other, "paused")
        assert vm.peak_rss() < RSS_BOUND_BYTES, vm.peak_rss()


def test_unix_socket_mode_and_tcp_on_loopback() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "q.sock")
        port = free_tcp_port()
        argv = [
            sys.executable,
            "-m",
            "pyqmp",
            "machine",
            "-S",
            "--qmp",
            f"unix:{path}",
            "--qmp",
            f"tcp:127.0.0.1:{port}",
        ]
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            tcp: socket.socket | None = None
            while tcp is None:
                try:
                    if os.path.exists(path):
                        tcp = socket.create_connection(("127.0.0.1", port), timeout=1)
                except OSError:
                    pass
                if tcp is None:
                    assert time.monotonic() < deadline and process.poll() is None
                    time.sleep(0.05)
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            client = Client(tcp)
            client.negotiate()
            assert_answers(client)
            unix = socket.socket(socket.AF_UNIX)
            unix.connect(path)
            second = Client(unix)
            second.negotiate()
            client.execute("cont")  # an event goes to every negotiated monitor
            event = second.read()
            assert event["event"] == "RESUME"
        finally:
            process.kill()
            process.wait(timeout=10)


def test_events_of_a_pipelined_burst_come_before_their_replies() -> None:
    """Negotiation and commands in one write: the monitor is negotiated in time for the
    events its own commands raise, which come before the command's reply (as in QEMU)."""
    with machine() as vm:
        client = vm.connect(0, negotiate=False)
        assert "QMP" in client.read()
        client.send(
            b'{"execute": "qmp_capabilities"}{"execute": "cont"}{"execute": "stop", "id": 2}'
        )
        messages = [client.read() for _ in range(5)]
        assert messages[0] == {"return": {}}
        assert messages[1]["event"] == "RESUME"
        assert messages[2] == {"return": {}}
        assert messages[3]["event"] == "STOP"
        assert messages[4] == {"return": {}, "id": 2}


def test_small_requests_with_large_replies_do_not_make_the_server_buffer() -> None:
    """One read can hold thousands of short requests whose replies are large (33 bytes in,
    10 KB of query-qmp-schema out): the monitor answers them only while the client's unread
    replies are under the high-water mark, holding the rest until it reads.  Eight clients
    that never read cost the machine a few MB, not hundreds; and once one reads, every
    request it sent is answered, in order."""
    with machine() as vm:
        before = (
            int(
                next(
                    line.split()[1]
                    for line in Path(f"/proc/{vm.process.pid}/status").read_text().splitlines()
                    if line.startswith("VmRSS:")
                )
            )
            * 1024
        )
        hogs = [vm.connect(0) for _ in range(8)]
        count = 3000
        requests = b"".join(
            b'{"execute": "query-qmp-schema", "id": %d}\n' % number for number in range(count)
        )
        for hog in hogs:
            hog.sock.setblocking(False)
            sent = 0
            deadline = time.monotonic() + 20
            while sent < len(requests) and time.monotonic() < deadline:
                try:
                    sent += hog.sock.send(requests[sent:])
                except BlockingIOError:
                    time.sleep(0.01)  # the server reads on as the hog's replies allow
            assert sent == len(requests), "the server stopped reading a client's requests"
            hog.sock.settimeout(READ_TIMEOUT)
        other = vm.connect(1)
        assert_answers(other)
        assert vm.peak_rss() - before < (64 << 20), (before, vm.peak_rss())
        reader = hogs[0]
        numbers = [reader.reply().get("id") for _ in range(count)]
        assert numbers == list(range(count))
        assert_answers(reader)


def test_memory_of_clients_that_never_read_is_given_back_when_they_go() -> None:
    """Clients that never read leave their monitors a high-water mark of replies each; when
    they go, those are freed, and the machine gives the memory back to the system (glibc
    keeps freed memory resident unless its heap is trimmed): the RSS comes back near its
    value before them, not to their peak."""
    with machine() as vm:
        assert_answers(vm.connect(1))
        before = vm.rss()
        requests = b"".join(
            b'{"execute": "query-qmp-schema", "id": %d}\n' % number for number in range(3000)
        )
        for _ in range(2):
            hogs = [vm.connect(0) for _ in range(12)]
            for hog in hogs:
                hog.sock.setblocking(False)
                with suppress(BlockingIOError):
                    hog.sock.send(requests)  # as much as the socket takes: never read
            other = vm.connect(1)
            assert_answers(other)
            for hog in hogs:
                hog.sock.close()
        grown = vm.peak_rss() - before
        deadline = time.monotonic() + 20
        while vm.rss() - before > (8 << 20) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert vm.rss() - before <= (8 << 20), (before, vm.rss(), grown)
