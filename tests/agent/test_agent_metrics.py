"""The metrics read the cache only, and the page is served from its own thread."""

from __future__ import annotations

import http.client
import socket

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pyqmp.agent.exporter import MAX_CONNECTIONS, MetricsPage, MetricsServer
from pyqmp.agent.metrics import AgentCollector, AgentHealth, stat_metric_name
from pyqmp.agent.state import GONE, UNRESPONSIVE, VMState

HEALTH = AgentHealth(
    dropped_monitor_events=3,
    dropped_nats_events=4,
    published_events=5,
    nats_connected=True,
    nats_reconnects=1,
    watch_skipped=2,
)


def render(
    states: list[VMState], health: AgentHealth = HEALTH
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(lambda: states, lambda: health))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_names_of_guest_statistics() -> None:
    assert stat_metric_name("stat-free-memory") == "qemu_guest_free_memory_bytes"
    assert stat_metric_name("stat-swap-in") == "qemu_guest_swap_in_bytes"
    assert stat_metric_name("stat-major-faults") == "qemu_guest_major_faults"
    assert stat_metric_name("stat-htlb-pgalloc") == "qemu_guest_htlb_pgalloc"


def test_series_per_vm_and_for_the_agent() -> None:
    up = VMState("web", "unix:/w", "watch")
    up.answered()
    up.set_status({"status": "running", "running": True})
    up.set_balloon(1 << 30, 1 << 29)
    up.set_stats({"stat-free-memory": 100, "stat-minor-faults": 7}, 1_700_000_000)
    up.count_event("STOP")
    frozen = VMState("db", "unix:/d", "qmp")
    frozen.answered()
    frozen.set_status({"status": "paused", "running": False})
    frozen.not_up(UNRESPONSIVE, "no reply")
    left = VMState("old", "unix:/o", "watch")
    left.not_up(GONE, "refused")
    named = VMState("named", "unix:/n", "qmp")
    named.not_up(GONE, "refused")
    samples = render([up, frozen, left, named])
    vm = (("vm", "web"),)
    assert samples[("qemu_up", vm)] == 1.0
    assert samples[("qemu_running", vm)] == 1.0
    assert samples[("qemu_status", (("status", "running"), ("vm", "web")))] == 1.0
    assert samples[("qemu_balloon_actual_bytes", vm)] == 1 << 30
    assert samples[("qemu_balloon_target_bytes", vm)] == 1 << 29
    assert samples[("qemu_guest_free_memory_bytes", vm)] == 100
    assert samples[("qemu_guest_minor_faults", vm)] == 7
    assert samples[("qemu_balloon_stats_last_update_timestamp_seconds", vm)] == 1_700_000_000
    assert samples[("qemu_events_total", (("event", "STOP"), ("vm", "web")))] == 1.0
    assert ("qemu_monitor_last_answer_timestamp_seconds", vm) in samples
    # frozen: down, and what was known stays (with its age)
    assert samples[("qemu_up", (("vm", "db"),))] == 0.0
    assert samples[("qemu_status", (("status", "paused"), ("vm", "db")))] == 1.0
    assert ("qemu_monitor_last_answer_timestamp_seconds", (("vm", "db"),)) in samples
    # gone: a watched VM leaves; a named one stays down, alone
    assert not [key for key in samples if ("vm", "old") in key[1]]
    assert [key for key in samples if ("vm", "named") in key[1]] == [
        ("qemu_up", (("vm", "named"),))
    ]
    assert samples[("qemu_up", (("vm", "named"),))] == 0.0
    # the agent itself
    assert samples[("pyqmp_agent_monitors", (("state", "up"),))] == 1.0
    assert samples[("pyqmp_agent_monitors", (("state", "gone"),))] == 2.0
    assert samples[("pyqmp_agent_dropped_events_total", (("where", "monitor"),))] == 3
    assert samples[("pyqmp_agent_dropped_events_total", (("where", "nats"),))] == 4
    assert samples[("pyqmp_agent_published_events_total", ())] == 5
    assert samples[("pyqmp_agent_nats_connected", ())] == 1.0
    assert samples[("pyqmp_agent_nats_reconnects_total", ())] == 1
    assert samples[("pyqmp_agent_watch_skipped_sockets", ())] == 2
    without_nats = render([], HEALTH._replace(nats_connected=None))
    assert ("pyqmp_agent_nats_connected", ()) not in without_nats


def test_the_page_is_served_as_it_is() -> None:
    page = MetricsPage()
    page.update(b"qemu_up 1\n")
    server = MetricsServer(page, "127.0.0.1", 0)
    server.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/metrics")
        answer = connection.getresponse()
        assert (answer.status, answer.read()) == (200, b"qemu_up 1\n")
        assert answer.getheader("Content-Type", "").startswith("text/plain; version=0.0.4")
        page.update(b"qemu_up 0\n")
        connection.request("GET", "/metrics")  # the same (kept-alive) connection
        assert connection.getresponse().read() == b"qemu_up 0\n"
        connection.request("HEAD", "/metrics")
        head = connection.getresponse()
        assert (head.status, head.read(), head.getheader("Content-Length")) == (200, b"", "10")
        connection.close()
        # past the bound, connections are closed at once; the server keeps serving
        idle = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10)
            for _ in range(MAX_CONNECTIONS)
        ]
        extra = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        extra.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        assert extra.recv(100) == b""
        extra.close()
        for sock in idle:
            sock.close()
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
    finally:
        server.close()
