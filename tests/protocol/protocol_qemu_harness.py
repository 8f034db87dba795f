"""Real QEMU and the protocol engine, fed the same bytes, for side-by-side tests.

QEMU's side goes over a raw AF_UNIX socket and through none of pyqmp's code: connect,
read the greeting, send the case's bytes, then a sentinel request, and collect the
``\\r\\n``-terminated messages up to the sentinel's reply.  The sentinel is preceded by
``\\xff\\n``, which resets QEMU's JSON parser whatever the case left behind (QEMU answers
the 0xFF with an error of its own, and so must the engine).  The engine's side runs
:class:`~pyqmp.protocol.ServerConnection` with a tiny fake command registry.  Every wait
is bounded; the QEMU process is killed by its own PID.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pyqmp.protocol import (
    CONNECTION_CLOSED,
    NEED_DATA,
    PAUSED,
    CommandRequest,
    JSONValue,
    ServerConnection,
)

STARTUP_TIMEOUT = 20.0
REPLY_TIMEOUT = float(os.environ.get("PYQMP_QEMU_REPLY_TIMEOUT", "600"))
SENTINEL_ID = "pyqmp-end-of-case"
SENTINEL = b'\xff\n{"execute": "qmp_capabilities", "id": "' + SENTINEL_ID.encode() + b'"}\n'

# What the fake registry answers, chosen to be what QEMU -M none -S answers, so that
# replies of these commands can be compared too.
QUERY_STATUS_RESULT: dict[str, JSONValue] = {
    "status": "prelaunch",
    "singlestep": False,
    "running": False,
}
FAKE_COMMANDS: dict[str, tuple[bool, JSONValue]] = {
    # name: (allows OOB, result)
    "query-status": (False, QUERY_STATUS_RESULT),
    "query-yank": (True, [{"type": "chardev", "id": "compat_monitor0"}]),
}


@contextlib.contextmanager
def qemu_qmp_socket(binary: Path | str) -> Iterator[str]:
    """A QEMU (``-M none -S``) serving QMP on a unix socket; yields the socket's path."""
    with tempfile.TemporaryDirectory(prefix="pyqmp-protocol-") as directory:
        path = os.path.join(directory, "q.sock")
        process = subprocess.Popen(
            [
                str(binary),
                "-M",
                "none",
                "-S",
                "-nodefaults",
                "-display",
                "none",
                "-qmp",
                f"unix:{path},server=on,wait=off",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not os.path.exists(path):
                if process.poll() is not None:
                    assert process.stderr is not None
                    raise RuntimeError(f"QEMU exited: {process.stderr.read().decode()}")
                if time.monotonic() > deadline:
                    raise RuntimeError("QEMU did not create its QMP socket in time")
                time.sleep(0.01)
            yield path
        finally:
            process.kill()
            process.wait(timeout=STARTUP_TIMEOUT)
            if process.stderr is not None:
                process.stderr.close()


def _read_line(sock: socket.socket, buffer: bytearray, deadline: float) -> bytes:
    while True:
        end = buffer.find(b"\r\n")
        if end >= 0:
            line = bytes(buffer[: end + 2])
            del buffer[: end + 2]
            return line
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete QMP message from QEMU in time")
        sock.settimeout(remaining)
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("QEMU closed the connection")
        buffer += chunk


def _is_sentinel_reply(line: bytes) -> bool:
    return b'"id": "' + SENTINEL_ID.encode() + b'"' in line


def qemu_exchange(path: str, chunks: Sequence[bytes]) -> list[bytes]:
    """The greeting and every message QEMU sends for ``chunks`` (sentinel reply included)."""
    deadline = time.monotonic() + REPLY_TIMEOUT
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(STARTUP_TIMEOUT)
        sock.connect(path)
        buffer = bytearray()
        lines = [_read_line(sock, buffer, deadline)]
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        for chunk in [*chunks, SENTINEL]:
            sock.sendall(chunk)
        while True:
            line = _read_line(sock, buffer, deadline)
            lines.append(line)
            if _is_sentinel_reply(line):
                return lines


def _run_fake(connection: ServerConnection, request: CommandRequest) -> bytes:
    result = FAKE_COMMANDS[request.name][1]
    return connection.reply_return(request, result)


def engine_exchange(
    version: JSONValue,
    chunks: Sequence[bytes],
    run: Callable[[ServerConnection, CommandRequest], bytes] = _run_fake,
) -> list[bytes]:
    """What the engine sends for ``chunks``: greeting, replies, up to the sentinel's."""
    connection = ServerConnection(
        version,
        command_exists=FAKE_COMMANDS.__contains__,
        allows_oob=lambda name: FAKE_COMMANDS[name][0],
    )
    wire = bytearray(connection.greeting())
    for chunk in [*chunks, SENTINEL]:
        connection.receive_data(chunk)
        while True:
            event = connection.next_event()
            wire += connection.data_to_send()
            if event is NEED_DATA:
                break
            assert event is not PAUSED and event is not CONNECTION_CLOSED, event
            assert isinstance(event, CommandRequest)
            wire += run(connection, event)
    lines = [line + b"\r\n" for line in bytes(wire).split(b"\r\n")[:-1]]
    assert lines and _is_sentinel_reply(lines[-1]), lines[-3:]
    return lines
