"""A deliberately minimal QMP client over a raw AF_UNIX socket, for interop tests.

The interop tests check pyqmp against real QEMU, so the QEMU side must not go through any
of pyqmp's own code (nor the qemu.qmp library, which has its own tests): this module speaks
the wire protocol by hand — read the greeting, negotiate, send one command at a time, read
newline-delimited JSON until the matching reply, skipping events.  Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

DEFAULT_QEMU_BINARY = "qemu-system-x86_64"
STARTUP_TIMEOUT_SECONDS = 30.0
REPLY_TIMEOUT_SECONDS = 60.0
EXIT_TIMEOUT_SECONDS = 15.0


class RawQMPError(Exception):
    """QEMU misbehaved, went away, or answered a command with an error."""


@dataclass
class RawQMPConnection:
    """One negotiated QMP connection; `execute` returns the reply's `return` value."""

    sock: socket.socket
    greeting: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    _buffer: bytes = b""

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RawQMPError("timed out waiting for a QMP message")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError as error:
                raise RawQMPError("timed out waiting for a QMP message") from error
            if not chunk:
                raise RawQMPError("QEMU closed the QMP connection")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message = json.loads(line)
        if not isinstance(message, dict):
            raise RawQMPError(f"QMP message is not a JSON object: {line[:200]!r}")
        return message

    def execute(
        self,
        command: str,
        arguments: dict[str, Any] | None = None,
        timeout: float = REPLY_TIMEOUT_SECONDS,
    ) -> Any:
        request: dict[str, Any] = {"execute": command}
        if arguments is not None:
            request["arguments"] = arguments
        self.sock.settimeout(timeout)
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if "event" in message:
                self.events.append(message)
                continue
            if "error" in message:
                raise RawQMPError(f"{command}: {message['error']}")
            if "return" in message:
                return message["return"]
            raise RawQMPError(f"{command}: unexpected QMP message {message!r}")


def _connect_with_retry(
    path: str, process: subprocess.Popen[bytes], deadline: float
) -> socket.socket:
    # QEMU creates the listening socket during startup; poll for it rather than sleeping blind.
    while True:
        if process.poll() is not None:
            raise RawQMPError(f"QEMU exited with status {process.returncode} before QMP was up")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise RawQMPError(f"QEMU's QMP socket {path} did not come up") from None
            time.sleep(0.02)


def find_qemu_binary(name: str = DEFAULT_QEMU_BINARY) -> str | None:
    return shutil.which(name)


@contextmanager
def running_qemu(binary: str, extra_args: Sequence[str] = ()) -> Iterator[RawQMPConnection]:
    """Start QEMU with one QMP monitor on a unix socket in a private temporary directory,
    yield a negotiated connection, then quit QEMU (killing it by PID if it does not exit)."""
    with tempfile.TemporaryDirectory(prefix="pyqmp-interop-") as directory:
        path = os.path.join(directory, "qmp.sock")
        argv = [
            binary,
            "-M",
            "none",
            "-S",
            "-nodefaults",
            "-display",
            "none",
            "-qmp",
            f"unix:{path},server=on,wait=off",
            *extra_args,
        ]
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        sock: socket.socket | None = None
        quit_sent = False
        try:
            sock = _connect_with_retry(path, process, time.monotonic() + STARTUP_TIMEOUT_SECONDS)
            connection = RawQMPConnection(sock=sock, greeting={})
            connection.greeting = connection._read_message(
                time.monotonic() + STARTUP_TIMEOUT_SECONDS
            )
            if "QMP" not in connection.greeting:
                raise RawQMPError(f"not a QMP greeting: {connection.greeting!r}")
            connection.execute("qmp_capabilities")
            yield connection
            quit_sent = True
            # QEMU may close the socket before its reply to quit gets out.
            with contextlib.suppress(RawQMPError, OSError):
                connection.execute("quit", timeout=EXIT_TIMEOUT_SECONDS)
        finally:
            if sock is not None:
                sock.close()
            try:
                # Without a quit there is nothing to wait for: kill at once.
                process.wait(timeout=EXIT_TIMEOUT_SECONDS if quit_sent else 0.1)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=EXIT_TIMEOUT_SECONDS)
            if process.stderr is not None:
                process.stderr.close()


def query_qmp_schema(binary: str) -> list[dict[str, Any]]:
    """The `return` of `query-qmp-schema` from a freshly started QEMU."""
    with running_qemu(binary) as connection:
        schema = connection.execute("query-qmp-schema")
    if not isinstance(schema, list):
        raise RawQMPError(f"query-qmp-schema returned {type(schema).__name__}, not a list")
    return schema
