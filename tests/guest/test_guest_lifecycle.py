"""The guest process's life: SIGSTOP/SIGCONT, power button, host gone, parent gone, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from guest_harness import MIB, SRC, GuestProcess, read_state

from pyqmp.channel import (
    ACTUAL,
    READY,
    STATS,
    decode_u64,
    encode_powerdown,
    encode_set_target,
    encode_stats_request,
)
from pyqmp.guest.main import main

RAM = 64 * MIB


def wait_state(pid: int, wanted: str, timeout: float = 3.0) -> str:
    deadline = time.monotonic() + timeout
    state = read_state(pid)
    while state != wanted and time.monotonic() < deadline:
        time.sleep(0.02)
        state = read_state(pid)
    return state


def test_sigstop_freezes_and_sigcont_resumes() -> None:
    with GuestProcess(RAM) as guest:
        guest.expect(READY)
        guest.wait_actual(0)
        os.kill(guest.pid, signal.SIGSTOP)
        assert wait_state(guest.pid, "T") == "T"
        guest.send(encode_stats_request() + encode_set_target(guest.pages // 4))
        assert guest.collect(1.0) == []  # frozen: nothing comes
        assert guest.state() == "T"
        os.kill(guest.pid, signal.SIGCONT)
        assert guest.expect(STATS, timeout=3)
        assert guest.wait_actual(guest.pages // 4, timeout=3)[-1] == guest.pages // 4
        assert guest.state() in "RS"


def test_powerdown_exits_zero_and_sends_nothing_more() -> None:
    with GuestProcess(RAM) as guest:
        guest.expect(READY)
        guest.wait_actual(0)
        guest.send(encode_powerdown())
        assert guest.wait_exit(timeout=3) == 0
        assert guest.collect(0.2) == []


def test_host_gone_eof_exits_zero() -> None:
    with GuestProcess(RAM) as guest:
        guest.expect(READY)
        guest.channel.close()
        assert guest.wait_exit(timeout=3) == 0
        assert guest.stderr() == ""


def test_eof_while_stopped_exits_after_sigcont() -> None:
    with GuestProcess(RAM) as guest:
        guest.expect(READY)
        os.kill(guest.pid, signal.SIGSTOP)
        assert wait_state(guest.pid, "T") == "T"
        guest.channel.close()
        os.kill(guest.pid, signal.SIGCONT)
        assert guest.wait_exit(timeout=3) == 0


SPAWNER = """
import subprocess, sys, time
fd = int(sys.argv[1])
guest = subprocess.Popen(
    [sys.executable, "-m", "pyqmp.guest", "--fd", str(fd), "--ram", "16777216", *sys.argv[2:]],
    pass_fds=[fd],
)
print(guest.pid, flush=True)
time.sleep(60)
"""


def process_gone(pid: int) -> bool:
    try:
        return read_state(pid) == "Z"  # reparented, exited, not yet reaped
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("fault", ["none", "hang"])
def test_parent_gone_guest_exits(tmp_path: Path, fault: str) -> None:
    # The host end stays open here, so only the parent's death tells the guest to go.
    import socket

    host, guest_end = socket.socketpair()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    spawner = subprocess.Popen(
        [sys.executable, "-c", SPAWNER, str(guest_end.fileno()), "--fault", fault],
        pass_fds=[guest_end.fileno()],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    guest_end.close()
    guest_pid = 0
    try:
        assert spawner.stdout is not None
        guest_pid = int(spawner.stdout.readline())
        if fault == "none":
            host.settimeout(5)
            assert host.recv(8)[2] == READY  # booted: it knows its parent
        else:
            time.sleep(1.0)
        assert not process_gone(guest_pid)
        spawner.kill()
        spawner.wait(timeout=5)
        deadline = time.monotonic() + 3
        while not process_gone(guest_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_gone(guest_pid)
    finally:
        if spawner.poll() is None:
            spawner.kill()
            spawner.wait(timeout=5)
        if guest_pid and not process_gone(guest_pid):
            os.kill(guest_pid, signal.SIGKILL)
        host.close()


def test_ready_reports_ram_in_pages_for_odd_sizes() -> None:
    with GuestProcess(RAM + 1000) as guest:
        assert decode_u64(guest.expect(READY).payload) == RAM // 4096
        assert decode_u64(guest.expect(ACTUAL).payload) == 0


def test_bad_fd_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fd", "987", "--ram", str(MIB)]) == 2
    assert "--fd 987 is not a usable socket" in capsys.readouterr().err


def test_bad_arguments_exit_2() -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--fd", "3", "--ram", "lots"])
    assert raised.value.code == 2
    with pytest.raises(SystemExit):
        main(["--fd", "3", "--ram", str(MIB), "--fault", "sulk"])


def test_ram_is_a_number_of_bytes_only() -> None:
    """The machine parses sizes (``-m 256M``); the guest only ever gets bytes."""
    for text in ("256M", "0", "-1", "1.5", ""):
        with pytest.raises(SystemExit) as raised:
            main(["--fd", "3", "--ram", text])
        assert raised.value.code == 2
