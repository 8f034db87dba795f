"""`pyqmp client` as a script uses it, against QEMU 7.2 and `pyqmp machine`: the return value
as JSON on stdout, an error reply as `CLASS: desc` with exit 1, an event with --wait-event,
a frozen server's timeout with exit 3 and a clear message, usage mistakes with exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from qmp_targets import BALLOON_PATH, TargetProcess

PROCESS_TIMEOUT = 60


def client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyqmp", "client", *args],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )


def test_commands_errors_and_events(running3: TargetProcess) -> None:
    first, second, third = running3.sockets
    done = client(first, "query-status")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "prelaunch", "singlestep": False, "running": False}

    done = client(
        f"unix:{second}",
        "qom-get",
        json.dumps({"path": BALLOON_PATH, "property": "guest-stats-polling-interval"}),
    )
    assert (done.returncode, json.loads(done.stdout)) == (0, 0)

    done = client(first, "balloon", '{"value": "big"}')
    assert done.returncode == 1
    assert done.stderr == "GenericError: Invalid parameter type for 'value', expected: integer\n"
    assert done.stdout == ""
    done = client(first, "no-such-command")
    assert done.returncode == 1
    assert done.stderr == "CommandNotFound: The command no-such-command has not been found\n"

    done = client(third, "cont", "--wait-event", "RESUME", "--timeout", "20")
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout)
    assert event["event"] == "RESUME" and event["data"] == {}
    assert set(event["timestamp"]) == {"seconds", "microseconds"}


def test_a_frozen_server_times_out_with_a_clear_message(running: TargetProcess) -> None:
    os.kill(running.process.pid, signal.SIGSTOP)
    try:
        done = client(running.sockets[0], "query-status", "--timeout", "1")
    finally:
        os.kill(running.process.pid, signal.SIGCONT)
    assert done.returncode == 3
    assert "timed out after 1 s" in done.stderr or "within 1 s" in done.stderr, done.stderr
    assert done.stdout == ""
    done = client(running.sockets[0], "--wait-event", "NEVER", "--timeout", "0.5")
    assert (done.returncode, done.stderr) == (3, "pyqmp client: no event NEVER within 0.5 s\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/qmp.sock", "query-status"], "failed connecting"),
        (["http://x", "query-status"], "unknown kind 'http:'"),
        (["/x.sock", "balloon", "[1]"], "JSON-ARGS must be a JSON object"),
        (["/x.sock", "balloon", "{value"], "JSON-ARGS is not JSON"),
        (["/x.sock"], "give a COMMAND, or --wait-event NAME"),
        (["/x.sock", "query-status", "--timeout", "-1"], "positive number of seconds"),
        (["/x.sock", "query-status", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_mistakes_are_reported_not_ignored(args: list[str], message: str) -> None:
    done = client(*args)
    assert done.returncode in (2, 4), done
    assert message in done.stderr
    assert "Traceback" not in done.stderr
