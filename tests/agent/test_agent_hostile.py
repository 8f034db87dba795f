"""What comes from outside cannot crash the agent or make it grow.

A monitor that lies (absurd values, malformed introspection, 5,000 events under as many
names, names no subject could carry unescaped) leaves bounded, checked metrics; malformed
NATS requests get error replies saying what was expected; the metrics server answers
what it does not serve with an error and keeps serving.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import sys
from pathlib import Path

from fleet_services import AgentProcess, NatsServer, Process, nats_request, wait_until

DEADLINE = 30.0
EVENTS = 5000
HERE = Path(__file__).resolve().parent


def test_a_lying_monitor_and_bad_requests(tmp_path: Path) -> None:
    path = tmp_path / "liar.qmp"
    with contextlib.ExitStack() as stack:
        nats = NatsServer(str(tmp_path))
        stack.callback(nats.stop)
        liar = Process(
            [sys.executable, str(HERE / "hostile_qmp.py"), str(path), str(EVENTS)],
            "hostile QMP server",
        )
        stack.callback(liar.stop)
        liar.wait_output("listening")
        agent = AgentProcess(
            "--qmp", f"liar={path}", "--nats", nats.url, "--host-name", "h", "--interval", "0.5"
        )
        stack.callback(agent.stop)
        liar.wait_output(f"sent {EVENTS} events")

        seen: list[float | None] = []

        def accounted() -> bool:
            samples = agent.samples()
            counted = sum(
                value for (name, labels), value in samples.items() if name == "qemu_events_total"
            )
            dropped = samples[
                ("pyqmp_agent_dropped_events_total", frozenset({("where", "monitor")}))
            ]
            up = samples.get(("qemu_up", frozenset({("vm", "liar")})))
            seen[:] = [counted, dropped, up]
            return counted + dropped == EVENTS and up == 1.0

        try:
            wait_until(accounted, DEADLINE, "every event counted or counted as dropped")
        except AssertionError as error:
            raise AssertionError(f"{error}; events counted, dropped, qemu_up: {seen}") from None
        samples = agent.samples()
        liar_series = {name: dict(labels) for (name, labels) in samples if ("vm", "liar") in labels}
        assert "qemu_status" not in liar_series and "qemu_running" not in liar_series
        assert "qemu_balloon_actual_bytes" not in liar_series
        assert "qemu_balloon_target_bytes" not in liar_series
        assert "qemu_balloon_stats_last_update_timestamp_seconds" not in liar_series
        stats = [name for name in liar_series if name.startswith("qemu_guest_")]
        assert 0 < len(stats) <= 32
        event_labels = {
            dict(labels)["event"] for (name, labels) in samples if name == "qemu_events_total"
        }
        assert len(event_labels) <= 65 and "other" in event_labels
        assert samples[("process_resident_memory_bytes", frozenset())] < 300 << 20

        subject = "qmp.h.liar.execute"
        for payload, expected in (
            (b"not json", 'expected {"execute": NAME'),
            ({"execute": "x", "bogus": 1}, "unknown field `bogus`"),
            ({"execute": 5}, "Expected `str`"),
            ({"execute": "query-status", "timeout": -1}, "expected 0 < timeout <= 300"),
            ({"execute": "query-status", "arguments": [1]}, "Expected `object | null`"),
        ):
            reply = nats_request(nats.url, subject, payload)
            assert reply["error"]["class"] == "GenericError", reply
            assert expected in reply["error"]["desc"], (payload, reply)
        reply = nats_request(nats.url, "qmp.h.%ZZ.execute", {"execute": "query-status"})
        assert "is not escaped as %XX" in reply["error"]["desc"], reply
        reply = nats_request(nats.url, subject, {"execute": "nothing-here"})
        assert reply == {"error": {"class": "CommandNotFound", "desc": "no nothing-here"}}
        listing = nats_request(nats.url, "qmp.h.list", b"")
        assert [vm["vm"] for vm in listing["vms"]] == ["liar"]

        # the metrics server: unknown paths, garbage and a connection storm
        host, port = agent.url.removeprefix("http://").removesuffix("/metrics").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", "/nothing")
        assert connection.getresponse().status == 404
        connection.close()
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(b"\x00\xff garbage\r\n\r\n")
            answer = b""
            while chunk := raw.recv(65536):  # an error page, then the server closes
                answer += chunk
            assert b"Error code: 400" in answer
        idle = [socket.create_connection((host, int(port)), timeout=10) for _ in range(50)]
        for sock in idle:
            sock.close()
        wait_until(lambda: "qemu_up" in agent.scrape(), DEADLINE, "metrics served again")
