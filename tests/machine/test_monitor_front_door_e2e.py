"""Who may connect to a real `pyqmp machine`, and how many: the front door of its monitors.

Unix peers are checked by SO_PEERCRED against a listener's uid allow-list before the
greeting (a refused peer gets no greeting, and the log names its pid and uid); a socket's
mode is what ``mode=`` says (0600 unless told); past a cap new connections are closed with
the reason logged while the ones already in keep answering; a client that never negotiates
is closed after the listener's ``negotiation-timeout``; and a burst of 100 clients
connecting at once on a unix socket is never refused.  Every wait has a deadline.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import tempfile
import time

from machine_process import MachineGone, MachineProcess, Monitor

DEADLINE = 20.0


def wait_for(condition: object, what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.02)


def wait_socket(machine: MachineProcess, path: str) -> None:
    wait_for(lambda: os.path.exists(path), f"{path} listening: {machine.output()[-2000:]}")


def raw_connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(DEADLINE)
    sock.connect(path)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends before it closes the connection (within the deadline)."""
    received = b""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the server did not close the connection; sent {received!r}")


def assert_refused_before_greeting(path: str) -> None:
    sock = raw_connect(path)
    try:
        assert read_until_closed(sock) == b""
    finally:
        sock.close()


def test_uid_allow_list_admits_its_uid_and_refuses_others_before_the_greeting() -> None:
    with tempfile.TemporaryDirectory(prefix="pyqmp-e2e-") as directory:
        refusing = os.path.join(directory, "others.sock")
        other_uid = os.getuid() + 1
        with MachineProcess(
            "-S",
            "--qmp",
            f"unix:{refusing},uid={other_uid}",
            monitors=1,
            monitor_options=[f",uid={os.getuid()}"],
        ) as machine:
            # MachineProcess negotiated the monitor whose list has our uid: it got a greeting.
            assert machine.monitors[0].value("query-status")["status"] == "prelaunch"
            wait_socket(machine, refusing)
            assert_refused_before_greeting(refusing)
            logged = f"refused pid {os.getpid()} uid {os.getuid()} gid {os.getgid()}"
            wait_for(lambda: logged in machine.output(), f"'{logged}' in the log")
            assert "uid and gid not in the listener's allow-list" in machine.output()
            assert f"connected pid {os.getpid()} uid {os.getuid()}" in machine.output()
            assert machine.monitors[0].value("query-status")["status"] == "prelaunch"


def test_socket_mode_is_settable_and_0600_by_default() -> None:
    with MachineProcess("-S", monitors=2, monitor_options=["", ",mode=0660"]) as machine:
        default, group = machine.sockets
        assert stat.S_IMODE(os.stat(default).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(group).st_mode) == 0o660
        assert machine.monitors[1].value("query-status")["status"] == "prelaunch"


def test_connection_caps_close_new_connections_and_spare_the_ones_in() -> None:
    with MachineProcess(
        "-S", "--max-connections", "3", monitors=2, monitor_options=["", ",max-connections=1"]
    ) as machine:
        first, capped = machine.sockets
        # The listener's own cap (1) is reached: a second client there is closed.
        assert_refused_before_greeting(capped)
        wait_for(
            lambda: "the listener's cap of 1 connections is reached" in machine.output(),
            "the listener's cap in the log",
        )
        # The server's total cap (3) leaves room for one more on the other listener...
        third = Monitor(first)
        # ...and then none.
        assert_refused_before_greeting(first)
        wait_for(
            lambda: "the server's cap of 3 connections is reached" in machine.output(),
            "the server's cap in the log",
        )
        for monitor in (*machine.monitors, third):
            assert monitor.value("query-status")["status"] == "prelaunch"
        # A connection that leaves makes room again.
        third.close()
        wait_for(lambda: _admits(first), "room again after a monitor left")


def _admits(path: str) -> bool:
    try:
        monitor = Monitor(path)
    except (MachineGone, OSError):
        return False
    monitor.close()
    return True


def test_a_client_that_never_negotiates_is_closed_after_the_timeout() -> None:
    with MachineProcess(
        "-S", monitors=1, monitor_options=[",negotiation-timeout=0.5"]
    ) as machine:
        (path,) = machine.sockets
        mute = raw_connect(path)
        try:
            greeting = read_until_closed(mute)
        finally:
            mute.close()
        assert greeting.startswith(b'{"QMP": ') and greeting.endswith(b"\r\n")
        wait_for(
            lambda: "no capabilities negotiation within 0.5 s" in machine.output(),
            "the timeout in the log",
        )
        # The monitor that negotiated at start, longer ago than the timeout, stays.
        assert machine.monitors[0].value("query-status")["status"] == "prelaunch"


def test_a_burst_of_100_clients_on_a_unix_socket_is_never_refused() -> None:
    with MachineProcess("-S", monitors=1) as machine:
        (path,) = machine.sockets
        clients = []
        refused = 0
        try:
            # All connects at once, without blocking: a full backlog shows as EAGAIN.
            for _ in range(100):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.setblocking(False)
                clients.append(sock)
                error = sock.connect_ex(path)
                if error in (errno.EAGAIN, errno.ECONNREFUSED):
                    refused += 1
                else:
                    assert error == 0, os.strerror(error)
            assert refused == 0
            for sock in clients:
                sock.settimeout(DEADLINE)
                greeting = b""
                while not greeting.endswith(b"\r\n"):
                    chunk = sock.recv(4096)
                    assert chunk, "closed before the greeting"
                    greeting += chunk
                assert greeting.startswith(b'{"QMP": ')
        finally:
            for sock in clients:
                sock.close()
        assert machine.monitors[0].value("query-status")["status"] == "prelaunch"


def test_gid_allow_list_admits_a_peer_of_its_group() -> None:
    with tempfile.TemporaryDirectory(prefix="pyqmp-e2e-") as directory:
        refusing = os.path.join(directory, "others.sock")
        with MachineProcess(
            "-S",
            "--qmp",
            f"unix:{refusing},uid={os.getuid() + 1},gid={os.getgid() + 1}",
            monitors=1,
            monitor_options=[f",uid={os.getuid() + 1},gid={os.getgid()}"],
        ) as machine:
            # Our uid is not on the first list, but our gid is: admitted.
            assert machine.monitors[0].value("query-status")["status"] == "prelaunch"
            wait_socket(machine, refusing)
            assert_refused_before_greeting(refusing)
            logged = f"refused pid {os.getpid()} uid {os.getuid()} gid {os.getgid()}"
            wait_for(lambda: logged in machine.output(), f"'{logged}' in the log")
