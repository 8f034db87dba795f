"""`pyqmp machine --compat ...` as a client meets it: every deprecated or unstable command,
argument and enum value the machine's own introspection shows is refused with QEMU's class
and text under `reject`, ends the machine as QEMU's abort() under `crash`, and the rest
works; under `deprecated-output=hide` the deprecated members of query-balloon (QEMU 0.13's
memory statistics) vanish, and query-qmp-schema hides what QEMU's hides, also for a
read-only monitor beside a full one (the two views compose).  Without --compat the machine
answers as before, the old members included once the guest has reported statistics.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import pytest
from machine_process import STARTUP_TIMEOUT, MachineProcess, Monitor

STATS_TIMEOUT = 30.0
EXIT_TIMEOUT = 30.0
OLD_MEMBERS = {
    "mem_swapped_in",
    "mem_swapped_out",
    "major_page_faults",
    "minor_page_faults",
    "free_mem",
    "total_mem",
}
# Arguments that make each special command valid, so only the policy can refuse it.
ARGUMENTS: dict[str, dict[str, Any]] = {"x-guest-fault": {"mode": "none"}}


def special_commands(schema: list[dict[str, Any]], feature: str) -> set[str]:
    return {
        entry["name"]
        for entry in schema
        if entry["meta-type"] == "command" and feature in entry.get("features", ())
    }


def error_of(reply: dict[str, Any]) -> tuple[str, str]:
    assert "error" in reply, reply
    return reply["error"]["class"], reply["error"]["desc"]


def stats_reported(monitor: Monitor) -> None:
    """Ask the guest for statistics and wait until the host has them."""
    monitor.value("balloon-stats-refresh")
    deadline = time.monotonic() + STATS_TIMEOUT
    while "last-update" not in monitor.value("query-balloon-stats"):
        assert time.monotonic() < deadline, "the guest reported no statistics"
        time.sleep(0.05)


@pytest.mark.parametrize(
    "policy",
    [
        "deprecated-input=reject",
        "unstable-input=reject",
        "deprecated-input=reject,unstable-input=reject",
    ],
)
def test_reject_refuses_every_special_command_and_the_rest_works(policy: str) -> None:
    with MachineProcess("-m", "128M", "--compat", policy, monitors=1) as machine:
        (monitor,) = machine.monitors
        machine.wait_guest()
        schema = monitor.value("query-qmp-schema")
        refused = {
            feature: special_commands(schema, feature)
            for feature in ("deprecated", "unstable")
            if f"{feature}-input=reject" in policy
        }
        assert all(refused.values()), refused  # the machine's schema gives the policy work
        for feature, names in refused.items():
            for name in sorted(names):
                reply = monitor.execute(name, ARGUMENTS.get(name))
                assert error_of(reply) == (
                    "CommandNotFound",
                    f"{feature.capitalize()} command {name} disabled by policy",
                )
        everything = {entry["name"] for entry in schema if entry["meta-type"] == "command"}
        for name in ("query-status", "query-balloon", "query-balloon-stats", "query-name"):
            assert name in everything
            assert "return" in monitor.execute(name), name
        if "unstable" not in refused:
            assert monitor.execute("x-guest-fault", {"mode": "none"}) == {"return": {}}
        if "deprecated" not in refused:
            assert monitor.execute("balloon-stats-request") == {"return": {}}


def test_reject_refuses_deprecated_arguments_and_values() -> None:
    with MachineProcess("-m", "128M", "--compat", "deprecated-input=reject", monitors=1) as machine:
        (monitor,) = machine.monitors
        machine.wait_guest()
        assert error_of(monitor.execute("query-balloon", {"refresh": True})) == (
            "GenericError",
            "Deprecated parameter refresh disabled by policy",
        )
        assert error_of(monitor.execute("x-guest-fault", {"mode": "stall"})) == (
            "GenericError",
            "Deprecated value stall disabled by policy",
        )
        # the same commands without the deprecated parts work
        assert "actual" in monitor.value("query-balloon")
        assert monitor.execute("x-guest-fault", {"mode": "none"}) == {"return": {}}
        # a value the type lacks is still the argument decoder's refusal, with QEMU's text
        assert error_of(monitor.execute("x-guest-fault", {"mode": "sulk"})) == (
            "GenericError",
            "Parameter 'mode' does not accept value 'sulk'",
        )


def test_without_compat_the_deprecated_interfaces_work() -> None:
    with MachineProcess("-m", "128M", monitors=1) as machine:
        (monitor,) = machine.monitors
        machine.wait_guest()
        assert monitor.value("query-balloon").keys() == {"actual"}  # nothing reported yet
        assert monitor.execute("balloon-stats-request") == {"return": {}}
        stats_reported(monitor)
        old = monitor.value("query-balloon", {"refresh": True})
        assert old.keys() == {"actual"} | OLD_MEMBERS  # QEMU 0.13's shape
        stats = monitor.value("query-balloon-stats")["stats"]
        assert old["total_mem"] == stats["stat-total-memory"]
        assert (
            old["minor_page_faults"]
            <= monitor.value("query-balloon-stats")["stats"]["stat-minor-faults"]
        )
        # 'stall', the old name of 'hang', is taken as 'hang' (a name the guest does not know
        # would be an internal error)
        assert monitor.execute("x-guest-fault", {"mode": "stall"}) == {"return": {}}
        schema = monitor.value("query-qmp-schema")
        assert "balloon-stats-request" in special_commands(schema, "deprecated")
        assert all("values" in entry for entry in schema if entry["meta-type"] == "enum")


def test_hide_shows_the_future_on_every_monitor_and_view() -> None:
    with MachineProcess(
        "-m",
        "128M",
        "--compat",
        "deprecated-output=hide",
        monitors=2,
        monitor_options=["", ",read-only=on"],
    ) as machine:
        full, looker = machine.monitors
        machine.wait_guest()
        stats_reported(full)
        for monitor in (full, looker):
            assert monitor.value("query-balloon").keys() == {"actual"}
        full_schema = full.value("query-qmp-schema")
        looker_schema = looker.value("query-qmp-schema")
        for schema in (full_schema, looker_schema):
            names = {entry["name"] for entry in schema}
            assert "balloon-stats-request" not in names  # a deprecated command: dropped
            assert not any("deprecated" in e.get("features", ()) for e in schema)
            for entry in schema:
                assert "values" not in entry  # SchemaInfoEnum.values is deprecated
                for member in entry.get("members", ()) if entry["meta-type"] == "object" else ():
                    assert member["name"] not in OLD_MEMBERS
        # the read-only view is the intersection: its commands are the full view's read-only
        # ones, and nothing deprecated comes back through it
        looker_commands = {e["name"] for e in looker_schema if e["meta-type"] == "command"}
        full_commands = {e["name"] for e in full_schema if e["meta-type"] == "command"}
        assert looker_commands < full_commands
        assert {"query-balloon", "query-qmp-schema"} <= looker_commands
        # hiding is output only: the deprecated command still runs (input policy: accept)
        assert full.execute("balloon-stats-request") == {"return": {}}
        assert "compat policy deprecated-output=hide" in machine.output()


@pytest.mark.parametrize(
    ("policy", "command", "arguments", "said"),
    [
        ("deprecated-input=crash", "balloon-stats-request", None, "deprecated command"),
        ("unstable-input=crash", "x-guest-fault", {"mode": "none"}, "unstable command"),
        ("deprecated-input=crash", "query-balloon", {"refresh": True}, "deprecated parameter"),
    ],
)
def test_crash_ends_the_machine_as_abort_does_and_says_why(
    policy: str, command: str, arguments: dict[str, Any] | None, said: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="pyqmp-compat-") as directory:
        path = os.path.join(directory, "qmp.sock")
        argv = [sys.executable, "-m", "pyqmp", "machine", "-m", "64M"]
        argv += ["--compat", policy, "--qmp", f"unix:{path}"]

        def no_core_file() -> None:  # the abort is the point; a core file in cwd is not
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        process = subprocess.Popen(
            argv,
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=no_core_file,  # only setrlimit, before exec
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not os.path.exists(path):
                assert process.poll() is None and time.monotonic() < deadline, "no machine"
                time.sleep(0.02)
            monitor = Monitor(path)
            assert "return" in monitor.execute("query-status")  # accepted: no crash
            monitor.send(command, arguments)
            assert process.wait(EXIT_TIMEOUT) == -signal.SIGABRT
            assert process.stderr is not None
            stderr = process.stderr.read().decode()
            assert f"{said} " in stderr and " used, and the compat policy says crash" in stderr
            monitor.close()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(EXIT_TIMEOUT)
            if process.stderr is not None:
                process.stderr.close()
