"""One agent, real monitors: QEMU 7.2, a `pyqmp machine` with its guest, a simulated fleet.

Against a real nats-server on 127.0.0.1: every VM gets its metrics; the agent learned from
introspection what to ask (pyqmp's query-balloon-stats, QEMU's guest-stats with polling
switched on); a `stop` sent over NATS stops the VM and its STOP event arrives on the VM's
subject; a QEMU frozen by SIGSTOP turns `qemu_up 0` while scrapes go on answering, a
command to it gets an error naming the deadline and does not hold up a command to another
VM; it comes back on SIGCONT; sockets that appear and vanish in the watched directory come
and go in the metrics; a killed VM leaves them (one named by --qmp keeps `qemu_up 0`).
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from fleet_services import (
    AgentProcess,
    NatsServer,
    SimFleet,
    nats_request,
    request_and_event,
    requests_in_arrival_order,
    wait_until,
)
from machine_process import MachineProcess
from qmp_targets import BALLOON_PATH, QemuTarget

DEADLINE = 30.0  # for anything to show in the metrics (the machine is shared and slow)
QEMU_RAM = 128 << 20  # QEMU's default -m


def test_agent_watches_qemu_and_pyqmp_machines(tmp_path: Path, qemu_binary: Path) -> None:
    watched = tmp_path / "vms"
    watched.mkdir()
    with contextlib.ExitStack() as stack:
        nats = NatsServer(str(tmp_path))
        stack.callback(nats.stop)
        qemu = stack.enter_context(
            QemuTarget(binary=str(qemu_binary)).start([str(watched / "qemu1.qmp")])
        )
        machine = stack.enter_context(MachineProcess("-m", "256M", monitors=1))
        sim = SimFleet(str(watched), 2, "--prefix", "sim-")
        stack.callback(sim.stop)
        agent = AgentProcess(
            "--watch",
            str(watched),
            "--qmp",
            f"pm1=unix:{machine.sockets[0]}",
            "--nats",
            nats.url,
            "--host-name",
            "host-a",
            "--interval",
            "0.5",
            "--deadline",
            "1",
        )
        stack.callback(agent.stop)

        everyone = {"qemu1": 1.0, "pm1": 1.0, "sim-0": 1.0, "sim-1": 1.0}
        wait_until(lambda: agent.vms() == everyone, DEADLINE, "every VM up")
        # pyqmp machine: query-balloon-stats, refreshed by the agent; the guest is real
        wait_until(
            lambda: agent.value("qemu_guest_total_memory_bytes", vm="pm1"),
            DEADLINE,
            "pm1's guest statistics",
        )
        assert agent.value("qemu_balloon_target_bytes", vm="pm1") == 256 << 20
        assert agent.value("qemu_balloon_stats_last_update_timestamp_seconds", vm="pm1")
        assert agent.value("qemu_status", vm="pm1", status="running") == 1.0
        # QEMU: query-balloon, and guest-stats with polling switched on by the agent
        assert agent.value("qemu_balloon_actual_bytes", vm="qemu1") == QEMU_RAM
        assert agent.value("qemu_status", vm="qemu1", status="prelaunch") == 1.0
        assert agent.value("qemu_running", vm="qemu1") == 0.0
        polling = nats_request(
            nats.url,
            "qmp.host-a.qemu1.execute",
            {
                "execute": "qom-get",
                "arguments": {"path": BALLOON_PATH, "property": "guest-stats-polling-interval"},
            },
        )
        assert polling == {"return": 10}
        # no guest driver in this QEMU: no statistic is made up
        assert agent.value("qemu_guest_total_memory_bytes", vm="qemu1") is None

        # stop over NATS: the VM stops, and its STOP event comes on its subject (the VM's
        # other events, such as its guest's BALLOON_STATS_UPDATE, come on subjects of their own)
        reply, event = request_and_event(
            nats.url, "qmp.host-a.pm1.execute", {"execute": "stop"}, "qmp.host-a.pm1.event.STOP"
        )
        assert reply == {"return": {}}
        assert (event["event"], event["vm"], event["host"]) == ("STOP", "pm1", "host-a")
        assert set(event["timestamp"]) == {"seconds", "microseconds"}
        wait_until(lambda: agent.value("qemu_running", vm="pm1") == 0.0, DEADLINE, "pm1 paused")
        assert agent.value("qemu_events_total", vm="pm1", event="STOP") == 1.0

        # QEMU frozen: qemu_up 0, while every scrape answers and the others stay up
        os.kill(qemu.process.pid, signal.SIGSTOP)
        try:
            wait_until(
                lambda: agent.value("qemu_up", vm="qemu1") == 0.0, DEADLINE, "frozen QEMU down"
            )
            for _ in range(5):
                assert agent.vms() == {**everyone, "qemu1": 0.0}
            # a command to the frozen VM does not hold up one to another VM sent after it
            (first, answered), (second, refused) = requests_in_arrival_order(
                nats.url,
                [
                    ("qmp.host-a.qemu1.execute", {"execute": "query-status", "timeout": 5}),
                    ("qmp.host-a.sim-0.execute", {"execute": "query-status"}),
                ],
            )
            assert (first, second) == (1, 0), (answered, refused)
            assert answered["return"]["status"] == "running", answered
            assert refused["error"]["class"] == "GenericError", refused
            assert "no reply to 'query-status' within 5 s" in refused["error"]["desc"], refused
        finally:
            os.kill(qemu.process.pid, signal.SIGCONT)
        wait_until(lambda: agent.value("qemu_up", vm="qemu1") == 1.0, DEADLINE, "QEMU back")

        # a socket appears while the agent runs, then vanishes
        late = SimFleet(str(watched), 1, "--prefix", "late-")
        try:
            wait_until(lambda: agent.vms().get("late-0") == 1.0, DEADLINE, "late-0 picked up")
        finally:
            late.stop()  # removes its socket file
        wait_until(lambda: "late-0" not in agent.vms(), DEADLINE, "late-0 dropped")

        # a killed VM leaves the metrics: its socket file stays, but nothing listens
        qemu.process.kill()
        qemu.process.wait()
        assert (watched / "qemu1.qmp").exists()
        wait_until(lambda: "qemu1" not in agent.vms(), DEADLINE, "killed QEMU gone")
        assert not [key for key in agent.samples() if ("vm", "qemu1") in key[1]]
        # one named by --qmp stays, as down, with nothing else
        os.kill(machine.pid, signal.SIGKILL)
        wait_until(lambda: agent.vms().get("pm1") == 0.0, DEADLINE, "killed pm1 down")
        assert agent.value("qemu_running", vm="pm1") is None
        assert agent.vms() == {"pm1": 0.0, "sim-0": 1.0, "sim-1": 1.0}
