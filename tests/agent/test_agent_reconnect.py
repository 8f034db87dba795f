"""The agent outlives NATS and its monitors going away, and reconnects with backoff.

While NATS is down the agent keeps serving metrics and holds the events of the outage in
its bounded outbox; when NATS is back (on the same port) it reconnects, publishes them
(nothing dropped) and answers commands again.  Monitors named by --qmp whose fleet stops
are down (qemu_up 0) and reconnected when it is back.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

from fleet_services import AgentProcess, NatsServer, SimFleet, nats_request, wait_until

DEADLINE = 30.0
EVENTS = 20


def test_agent_reconnects(tmp_path: Path) -> None:
    sims = tmp_path / "sims"
    sims.mkdir()
    with contextlib.ExitStack() as stack:
        nats = NatsServer(str(tmp_path))
        stack.callback(lambda: nats.stop())
        sim = SimFleet(str(sims), 2, "--events", str(EVENTS), "--rate", "200")
        stack.callback(lambda: sim.stop())
        agent = AgentProcess(
            "--qmp",
            f"s0=unix:{sims}/vm-0.qmp",
            "--qmp",
            f"s1={sims}/vm-1.qmp",
            "--nats",
            nats.url,
            "--host-name",
            "h",
            "--interval",
            "0.5",
        )
        stack.callback(agent.stop)
        wait_until(lambda: agent.vms() == {"s0": 1.0, "s1": 1.0}, DEADLINE, "monitors up")
        wait_until(
            lambda: agent.value("pyqmp_agent_nats_connected") == 1.0, DEADLINE, "NATS connected"
        )

        # NATS goes away; the VMs' events go on and are held
        port = nats.port
        nats.stop()
        wait_until(
            lambda: agent.value("pyqmp_agent_nats_connected") == 0.0, DEADLINE, "NATS seen gone"
        )
        sim.process.signal(signal.SIGUSR1)
        sim.process.wait_output(f"made {EVENTS} events")

        def run_state_events() -> float:
            samples = agent.samples()
            return sum(
                value
                for (name, labels), value in samples.items()
                if name == "qemu_events_total" and dict(labels)["event"] in ("STOP", "RESUME")
            )

        wait_until(lambda: run_state_events() == EVENTS, DEADLINE, "the agent got the events")
        assert agent.vms() == {"s0": 1.0, "s1": 1.0}

        nats = NatsServer(str(tmp_path), port=port)
        wait_until(
            lambda: agent.value("pyqmp_agent_nats_connected") == 1.0, DEADLINE, "NATS reconnected"
        )
        assert agent.value("pyqmp_agent_nats_reconnects_total") == 1.0

        def all_published() -> bool:
            samples = agent.samples()
            received = sum(
                value for (name, _), value in samples.items() if name == "qemu_events_total"
            )
            return samples[("pyqmp_agent_published_events_total", frozenset())] == received

        wait_until(all_published, DEADLINE, "every event published after the outage")
        assert agent.value("pyqmp_agent_dropped_events_total", where="nats") == 0.0
        assert agent.value("pyqmp_agent_dropped_events_total", where="monitor") == 0.0
        reply = nats_request(nats.url, "qmp.h.s0.execute", {"execute": "query-name"})
        assert reply == {"return": {"name": "vm-0"}}

        # the monitors' fleet stops (its sockets go): down; back: reconnected
        sim.stop()
        wait_until(lambda: agent.vms() == {"s0": 0.0, "s1": 0.0}, DEADLINE, "monitors down")
        sim = SimFleet(str(sims), 2)
        wait_until(lambda: agent.vms() == {"s0": 1.0, "s1": 1.0}, DEADLINE, "monitors back")
        assert agent.value("pyqmp_agent_monitor_reconnects_total", vm="s0") == 1.0
