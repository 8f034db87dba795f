"""`pyqmp fleet` across two agents on one nats-server (as two hosts would be).

Host names are chosen so that one needs escaping in subjects (``rack.b``).  The fleet
lists both hosts' VMs, runs commands by HOST/VM or by a VM name only one host has,
refuses an ambiguous one, reports a QMP error reply as an error, and follows events by
pattern.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fleet_services import AgentProcess, NatsServer, Process, SimFleet, wait_until

DEADLINE = 30.0


def fleet(nats_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyqmp", "fleet", "--nats", nats_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def listed(nats_url: str) -> dict[str, dict[str, Any]]:
    result = fleet(nats_url, "ls", "--json")
    assert result.returncode == 0, result.stderr
    hosts = [json.loads(line) for line in result.stdout.splitlines()]
    return {host["host"]: {vm["vm"]: vm for vm in host["vms"]} for host in hosts}


def test_two_agents_one_fleet(tmp_path: Path) -> None:
    dir_a, dir_b = tmp_path / "a", tmp_path / "b"
    dir_a.mkdir()
    dir_b.mkdir()
    with contextlib.ExitStack() as stack:
        nats = NatsServer(str(tmp_path))
        stack.callback(nats.stop)
        for directory, count in ((dir_a, 2), (dir_b, 3)):
            sim = SimFleet(str(directory), count)
            stack.callback(sim.stop)
        for directory, host in ((dir_a, "host-a"), (dir_b, "rack.b")):
            agent = AgentProcess(
                "--watch",
                str(directory),
                "--nats",
                nats.url,
                "--host-name",
                host,
                "--interval",
                "0.5",
            )
            stack.callback(agent.stop)

        def everyone_up() -> bool:
            hosts = listed(nats.url)
            counts = {
                host: sum(vm["monitor"] == "up" for vm in vms.values())
                for host, vms in hosts.items()
            }
            return counts == {"host-a": 2, "rack.b": 3}

        wait_until(everyone_up, DEADLINE, "both agents listing their VMs up")
        table = fleet(nats.url, "ls")
        assert table.returncode == 0, table.stderr
        rows = [line.split() for line in table.stdout.splitlines()]
        assert rows[0] == ["HOST", "VM", "MONITOR", "STATUS"]
        assert rows[1:] == [
            ["host-a", "vm-0", "up", "running"],
            ["host-a", "vm-1", "up", "running"],
            ["rack.b", "vm-0", "up", "running"],
            ["rack.b", "vm-1", "up", "running"],
            ["rack.b", "vm-2", "up", "running"],
        ]
        one = fleet(nats.url, "ls", "--host", "rack.b", "--json")
        assert [json.loads(line)["host"] for line in one.stdout.splitlines()] == ["rack.b"]

        # by HOST/VM, and by a name only one host has
        stopped = fleet(nats.url, "exec", "rack.b/vm-1", "stop")
        assert (stopped.returncode, json.loads(stopped.stdout)) == (0, {}), stopped.stderr
        status = fleet(nats.url, "exec", "rack.b/vm-1", "query-status")
        assert json.loads(status.stdout)["status"] == "paused"
        status = fleet(nats.url, "exec", "host-a/vm-1", "query-status")
        assert json.loads(status.stdout)["status"] == "running"
        unique = fleet(nats.url, "exec", "vm-2", "query-name")
        assert (unique.returncode, json.loads(unique.stdout)) == (0, {"name": "vm-2"})
        ambiguous = fleet(nats.url, "exec", "vm-0", "query-status")
        assert ambiguous.returncode == 1
        assert "host-a, rack.b" in ambiguous.stderr and "HOST/VM" in ambiguous.stderr
        balloon = fleet(nats.url, "exec", "host-a/vm-0", "balloon", '{"value": 67108864}')
        assert balloon.returncode == 0, balloon.stderr
        # a QMP error reply is an error, with the server's class and text
        wrong = fleet(nats.url, "exec", "host-a/vm-0", "balloon", '{"value": "x"}')
        assert wrong.returncode == 1
        assert wrong.stderr.startswith("GenericError: Invalid parameter type for 'value'")
        missing = fleet(nats.url, "exec", "host-a/vm-9", "query-status")
        assert (missing.returncode, missing.stderr.strip()) == (
            1,
            "DeviceNotFound: host-a: no VM named 'vm-9'",
        )
        nobody = fleet(nats.url, "exec", "host-z/vm-0", "query-status")
        assert nobody.returncode == 1 and "no agent serves host 'host-z'" in nobody.stderr

        # events by pattern: only rack.b's vm-0 STOP events
        watcher = Process(
            [
                sys.executable,
                "-m",
                "pyqmp",
                "fleet",
                "--nats",
                nats.url,
                "events",
                "--count",
                "1",
                "rack.b/vm-0/STOP",
            ],
            "fleet events",
        )
        stack.callback(watcher.stop)
        deadline = time.monotonic() + DEADLINE
        # toggle until the watcher (subscribed at some point) has seen a STOP
        while watcher.process.poll() is None and time.monotonic() < deadline:
            for target in ("host-a/vm-0", "rack.b/vm-0"):
                for command in ("stop", "cont"):
                    assert fleet(nats.url, "exec", target, command).returncode == 0
        assert watcher.process.wait(timeout=10) == 0
        (line,) = watcher.output().splitlines()
        event = json.loads(line)
        assert (event["host"], event["vm"], event["event"]) == ("rack.b", "vm-0", "STOP")
