"""`pyqmp agent`, `pyqmp fleet` and `pyqmp sim-fleet` refuse what they do not understand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def pyqmp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyqmp", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metrics", "127.0.0.1:0"], "nothing to watch: give --watch DIR or --qmp"),
        (["--qmp", "a=/x"], "nowhere to report: give --metrics HOST:PORT, --nats URL"),
        (["--qmp", "a", "--metrics", "127.0.0.1:0"], "expected NAME=ADDRESS"),
        (["--qmp", "a=/x", "--qmp", "a=/y", "--metrics", "127.0.0.1:0"], "names a VM twice"),
        (["--watch", "/nonexistent-dir", "--metrics", "127.0.0.1:0"], "not a directory"),
        (["--qmp", "a=/x", "--metrics", "9177"], "expected HOST:PORT"),
        (["--qmp", "a=/x", "--nats", "localhost:4222"], "expected nats://HOST[:PORT]"),
        (["--qmp", "a=/x", "--nats", "nats://h", "--host-name", ""], "invalid host name"),
        (["--qmp", "a=/x", "--nats", "nats://h", "--interval", "0"], "invalid --interval"),
        (["--qmp", "a=/x", "--nats", "nats://h", "--stats-interval", "2.5"], "whole seconds"),
    ],
)
def test_agent_refuses(args: list[str], message: str) -> None:
    result = pyqmp("agent", *args)
    assert result.returncode == 2, result
    assert result.stderr.startswith("pyqmp agent: ") and message in result.stderr


def test_unknown_options_are_errors() -> None:
    for command in (
        ["agent"],
        ["fleet", "--nats", "nats://h", "ls"],
        ["sim-fleet", "/tmp", "--count", "1"],
    ):
        result = pyqmp(*command, "--frobnicate")
        assert result.returncode == 2 and "unrecognized arguments: --frobnicate" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nats", "nats://127.0.0.1:1", "events", "a/b/c/d"], "expected VM, HOST/VM or"),
        (["--nats", "nats://127.0.0.1:1", "events", "a//c"], "expected VM, HOST/VM or"),
        (["--nats", "nats://127.0.0.1:1", "exec", "h/vm", "stop", "[1]"], "expected a JSON"),
        (["--nats", "nats://127.0.0.1:1", "exec", "h/vm", "stop", "{"], "invalid arguments"),
        (
            ["--nats", "nats://127.0.0.1:1", "exec", "--timeout", "0", "h/vm", "stop"],
            "invalid --timeout",
        ),
        (["--nats", "tcp://x", "ls"], "expected nats://HOST"),
    ],
)
def test_fleet_refuses(args: list[str], message: str) -> None:
    result = pyqmp("fleet", *args)
    assert result.returncode == 2, result
    assert message in result.stderr


def test_fleet_without_nats_says_so() -> None:
    result = pyqmp("fleet", "--nats", "nats://127.0.0.1:1", "ls")
    assert result.returncode == 1
    assert result.stderr.startswith("pyqmp fleet: cannot connect to NATS nats://127.0.0.1:1")


def test_sim_fleet_refuses(tmp_path: Path) -> None:
    for args, message in (
        ([str(tmp_path), "--count", "0"], "expected 1 to 100000"),
        ([str(tmp_path / "none"), "--count", "1"], "is not a directory"),
        ([str(tmp_path), "--count", "1", "-m", "lots"], "invalid RAM size"),
        ([str(tmp_path), "--count", "1", "--events", "-1"], "--events >= 0"),
    ):
        result = pyqmp("sim-fleet", *args)
        assert result.returncode == 2 and message in result.stderr, result


def test_help_lists_the_fleet_commands() -> None:
    listing = pyqmp("--help").stdout
    listed = {line.split()[0] for line in listing.splitlines() if line.startswith("    ")}
    assert {"agent", "fleet", "sim-fleet"} <= listed, listing
