"""A real Prometheus (Debian's package) scrapes the agent, and its query API has the VMs."""

from __future__ import annotations

import contextlib
from pathlib import Path

from fleet_services import AgentProcess, Prometheus, SimFleet, wait_until

DEADLINE = 60.0  # prometheus starts, then scrapes every second


def test_prometheus_scrapes_the_agent(tmp_path: Path) -> None:
    watched = tmp_path / "vms"
    watched.mkdir()
    with contextlib.ExitStack() as stack:
        sim = SimFleet(str(watched), 2, "-m", "256M")
        stack.callback(sim.stop)
        agent = AgentProcess("--watch", str(watched), "--interval", "0.5")
        stack.callback(agent.stop)
        wait_until(lambda: agent.vms() == {"vm-0": 1.0, "vm-1": 1.0}, DEADLINE, "VMs up")
        target = agent.url.removeprefix("http://").removesuffix("/metrics")
        prometheus = Prometheus(str(tmp_path), [target])
        stack.callback(prometheus.stop)

        def balloons() -> dict[str, str]:
            return {
                result["metric"]["vm"]: result["value"][1]
                for result in prometheus.query("qemu_balloon_actual_bytes")
            }

        found = wait_until(
            lambda: len(balloons()) == 2 and balloons(),
            DEADLINE,
            "qemu_balloon_actual_bytes in prometheus",
        )
        assert found == {"vm-0": str(256 << 20), "vm-1": str(256 << 20)}
        (up,) = prometheus.query('qemu_up{vm="vm-1"}')
        assert up["metric"]["job"] == "pyqmp-agent" and up["value"][1] == "1"
