"""TLS monitors against `pyqmp machine` and QEMU 7.2, from the same x509 directory.

The certificates are made with ``trustme`` in QEMU's file layout (``ca-cert.pem``,
``server-cert.pem``, ``server-key.pem``), and both servers are started on that directory
with peer verification on: a client certificate from the CA gets the greeting and its
commands answered; no certificate, another CA's, and plain TCP get no greeting.  QEMU 7.2
leaves a command received over TLS unanswered until one more byte arrives (it reads one
byte per main-loop turn and does not see gnutls's buffer as readable); the test shows
that, and that pyqmp answers at once.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from free_port import free_tcp_port

STARTUP_TIMEOUT = 30.0
READ_TIMEOUT = 10.0
CLIENT_NAME = "monitor-client"


@dataclass
class Certificates:
    directory: Path  # QEMU's x509 layout: what both servers are given
    ca: trustme.CA
    client: trustme.LeafCert
    stranger: trustme.LeafCert  # from another CA


@pytest.fixture(scope="module")
def certificates() -> Iterator[Certificates]:
    with tempfile.TemporaryDirectory(prefix="pyqmp-x509-") as name:
        directory = Path(name)
        ca = trustme.CA()
        server = ca.issue_cert("localhost", "127.0.0.1")
        ca.cert_pem.write_to_path(str(directory / "ca-cert.pem"))
        server.cert_chain_pems[0].write_to_path(str(directory / "server-cert.pem"))
        server.private_key_pem.write_to_path(str(directory / "server-key.pem"))
        client = ca.issue_cert(f"{CLIENT_NAME}@example.org", common_name=CLIENT_NAME)
        stranger = trustme.CA().issue_cert("stranger@example.org", common_name="stranger")
        yield Certificates(directory, ca, client, stranger)


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    output_path: Path
    plain_socket: str = ""  # QEMU: a unix monitor beside (its TCP one takes one client)

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")


def _start_qemu(directory: Path, output: Path) -> Server:
    port = free_tcp_port()
    plain = str(output.parent / "plain.sock")
    argv = [
        "qemu-system-x86_64",
        "-M",
        "none",
        "-S",
        "-nodefaults",
        "-display",
        "none",
        "-object",
        f"tls-creds-x509,id=tls0,dir={directory},endpoint=server,verify-peer=on",
        "-qmp",
        f"tcp:127.0.0.1:{port},server=on,wait=off,tls-creds=tls0",
        "-qmp",
        f"unix:{plain},server=on,wait=off",
    ]
    with output.open("wb") as sink:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
    server = Server("qemu", port, process, output, plain)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not (_listening(port) and os.path.exists(plain)):
        _check_starting(server, deadline)
        time.sleep(0.05)
    return server


def _start_pyqmp(directory: Path, output: Path) -> Server:
    # Port 0: the machine binds a free port and says which on stdout.
    argv = [
        sys.executable,
        "-m",
        "pyqmp",
        "machine",
        "-S",
        "--qmp",
        f"tcp:127.0.0.1:0,tls-creds={directory},verify-peer=on",
    ]
    with output.open("wb") as sink:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
    server = Server("pyqmp", 0, process, output)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        found = re.search(r"QMP monitor on tcp:127\.0\.0\.1:(\d+) \(tls\)", server.output())
        if found:
            server.port = int(found.group(1))
            return server
        _check_starting(server, deadline)
        time.sleep(0.05)


def _listening(port: int) -> bool:
    # QEMU says nothing when it listens: look for the port in LISTEN state (0A), without
    # connecting (a probe would be one more failed handshake in its log).
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def _check_starting(server: Server, deadline: float) -> None:
    if server.process.poll() is not None or time.monotonic() > deadline:
        raise AssertionError(f"{server.name} did not start: {server.output()[-2000:]}")


@pytest.fixture(params=["pyqmp", "qemu"])
def server(request: pytest.FixtureRequest, certificates: Certificates) -> Iterator[Server]:
    start = _start_pyqmp if request.param == "pyqmp" else _start_qemu
    with tempfile.TemporaryDirectory() as scratch:
        running = start(certificates.directory, Path(scratch) / "output")
        try:
            yield running
        finally:
            running.process.kill()  # by its PID: only the process this test started
            running.process.wait(timeout=30)


def _context(certificates: Certificates, client: trustme.LeafCert | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    certificates.ca.configure_trust(context)
    if client is not None:
        client.configure_cert(context)
    return context


def _tls_connect(server: Server, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=READ_TIMEOUT)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _read_line(sock: socket.socket, buffer: bytearray) -> dict[str, object]:
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed; read {bytes(buffer)!r}")
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    message = json.loads(line)
    assert isinstance(message, dict)
    return message


def _read_everything(sock: socket.socket) -> bytes:
    """What the server sends until it closes, or raises ConnectionError/SSLError."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ssl.SSLError, ConnectionError):
        pass
    return received


def test_a_client_certificate_from_the_ca_is_served(
    server: Server, certificates: Certificates
) -> None:
    with _tls_connect(server, _context(certificates, certificates.client)) as tls:
        buffer = bytearray()
        assert "QMP" in _read_line(tls, buffer)
        # Each command in a record of its own, then one byte more for QEMU's sake (see
        # test_a_tls_command_is_answered_without_an_extra_byte).
        for command in (b'{"execute": "qmp_capabilities"}\n', b'{"execute": "query-status"}\n'):
            tls.sendall(command)
            tls.sendall(b" ")
        assert _read_line(tls, buffer) == {"return": {}}
        status = _read_line(tls, buffer)["return"]
        assert isinstance(status, dict) and status["status"] == "prelaunch"
    if server.name == "pyqmp":  # the certificate's subject is the monitor's identity
        assert f"CN={CLIENT_NAME}" in server.output()


@pytest.mark.parametrize("who", ["no certificate", "another CA's", "plain TCP"])
def test_others_get_no_greeting(server: Server, certificates: Certificates, who: str) -> None:
    if who == "plain TCP":
        with socket.create_connection(("127.0.0.1", server.port), timeout=READ_TIMEOUT) as plain:
            plain.sendall(b'{"execute": "qmp_capabilities"}\n')
            assert b"QMP" not in _read_everything(plain)
        return
    client = None if who == "no certificate" else certificates.stranger
    received = b""
    try:
        # TLS 1.3: the client's side of the handshake may finish before the server has
        # checked the client's certificate; the refusal comes on the first read.
        with _tls_connect(server, _context(certificates, client)) as tls:
            received = _read_everything(tls)
    except (ssl.SSLError, ConnectionError):
        pass
    assert b"QMP" not in received
    # ... and the server still serves a good client.
    with _tls_connect(server, _context(certificates, certificates.client)) as tls:
        assert "QMP" in _read_line(tls, bytearray())


def _answered_by_then(tls: ssl.SSLSocket) -> bool:
    readable, _, _ = select.select([tls], [], [], 0)
    return bool(tls.pending() or readable)


def test_a_tls_command_is_answered_without_an_extra_byte(
    server: Server, certificates: Certificates
) -> None:
    with _tls_connect(server, _context(certificates, certificates.client)) as tls:
        buffer = bytearray()
        assert "QMP" in _read_line(tls, buffer)
        tls.sendall(b'{"execute": "qmp_capabilities"}\n')  # one TLS record, nothing after it
        if server.name == "pyqmp":
            assert _read_line(tls, buffer) == {"return": {}}
            return
        # QEMU 7.2 reads the record's first byte and waits for the socket to be readable
        # again: give it what is hundreds of main-loop turns on a plain monitor beside
        # (it reads one byte per turn too), and the TLS command still has no answer.
        with socket.socket(socket.AF_UNIX) as plain:
            plain.settimeout(READ_TIMEOUT)
            plain.connect(server.plain_socket)
            plain_buffer = bytearray()
            assert "QMP" in _read_line(plain, plain_buffer)
            plain.sendall(b'{"execute": "qmp_capabilities"}\n')
            assert _read_line(plain, plain_buffer) == {"return": {}}
            for _ in range(20):
                plain.sendall(b'{"execute": "query-status"}\n')
                assert "return" in _read_line(plain, plain_buffer)
                assert not _answered_by_then(tls), "QEMU answered: its extra-byte bug is gone"
        tls.sendall(b" ")  # one more byte, and the answer comes
        assert _read_line(tls, buffer) == {"return": {}}
