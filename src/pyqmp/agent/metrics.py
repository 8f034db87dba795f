"""The agent's Prometheus metrics: what it knows of every VM, and of itself.

:class:`AgentCollector` is a ``prometheus_client`` collector that reads the agent's cache
(:class:`~.state.VMState`) and nothing else: collecting never sends a command, so a
frozen VM cannot slow it down.  Per VM (label ``vm``): ``qemu_up``, ``qemu_running``,
``qemu_status{status}``, the balloon's ``actual``/``target`` bytes where known, one gauge
per guest memory statistic (``qemu_guest_free_memory_bytes``, ...), the host-time
timestamps of the last statistics and of the last answer (staleness is visible), and
``qemu_events_total{event}``.  The agent's own health is under ``pyqmp_agent_``.  A VM
found by ``--watch`` where nothing listens any more has left the host and has no series;
one named by ``--qmp`` keeps ``qemu_up 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Final, NamedTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .state import CONNECTING, DISCONNECTED, GONE, UNRESPONSIVE, UP, VMState

# Guest statistics that are amounts of memory (the virtio spec gives them in bytes).
_BYTE_STATS: Final = frozenset(
    (
        "stat-swap-in",
        "stat-swap-out",
        "stat-free-memory",
        "stat-total-memory",
        "stat-available-memory",
        "stat-disk-caches",
    )
)
MONITOR_STATES: Final = (UP, UNRESPONSIVE, CONNECTING, DISCONNECTED, GONE)


def stat_metric_name(stat: str) -> str:
    """``stat-free-memory`` -> ``qemu_guest_free_memory_bytes``."""
    base = "qemu_guest_" + stat.removeprefix("stat-").replace("-", "_")
    return base + "_bytes" if stat in _BYTE_STATS else base


class AgentHealth(NamedTuple):
    """The agent's own numbers, at collection time."""

    dropped_monitor_events: int  # events a VM's stream dropped (the agent fell behind)
    dropped_nats_events: int  # events the NATS outbox dropped (NATS away or slow)
    published_events: int
    nats_connected: bool | None  # None: no NATS configured
    nats_reconnects: int
    watch_skipped: int


class AgentCollector(Collector):
    """Metrics from the agent's cache; ``states`` and ``health`` must not block."""

    def __init__(
        self, states: Callable[[], Iterable[VMState]], health: Callable[[], AgentHealth]
    ) -> None:
        self._states = states
        self._health = health

    def collect(self) -> Iterator[Metric]:
        states = list(self._states())
        yield from self._vm_metrics(states)
        yield from self._agent_metrics(states, self._health())

    def _vm_metrics(self, states: list[VMState]) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "qemu_up",
            "1 if the VM's monitor answers within the agent's deadline, else 0",
            labels=["vm"],
        )
        running = GaugeMetricFamily("qemu_running", "1 if the VM runs, else 0", labels=["vm"])
        status = GaugeMetricFamily(
            "qemu_status",
            "The VM's run state (query-status), as a label; the value is 1",
            labels=["vm", "status"],
        )
        actual = GaugeMetricFamily(
            "qemu_balloon_actual_bytes",
            "The guest's memory size as its balloon driver reports it",
            labels=["vm"],
        )
        target = GaugeMetricFamily(
            "qemu_balloon_target_bytes", "The memory size the guest is asked for", labels=["vm"]
        )
        stats_update = GaugeMetricFamily(
            "qemu_balloon_stats_last_update_timestamp_seconds",
            "Host time when the guest's memory statistics last arrived",
            labels=["vm"],
        )
        last_answer = GaugeMetricFamily(
            "qemu_monitor_last_answer_timestamp_seconds",
            "Host time of the monitor's last answer to the agent",
            labels=["vm"],
        )
        events = CounterMetricFamily(
            "qemu_events", "Events the VM's monitor sent, by name", labels=["vm", "event"]
        )
        reconnects = CounterMetricFamily(
            "pyqmp_agent_monitor_reconnects",
            "Times the agent connected to the VM's monitor again after losing it",
            labels=["vm"],
        )
        stats: dict[str, GaugeMetricFamily] = {}
        for state in states:
            vm = [state.name]
            if state.monitor == GONE and state.source == "watch":
                continue  # the VM has left this host
            up.add_metric(vm, 1.0 if state.up else 0.0)
            if state.monitor == GONE:
                continue
            reconnects.add_metric(vm, state.reconnects)
            for name, count in state.events.items():
                events.add_metric([state.name, name], count)
            if state.last_answer is not None:
                last_answer.add_metric(vm, state.last_answer)
            if state.running is not None:
                running.add_metric(vm, 1.0 if state.running else 0.0)
            if state.status is not None:
                status.add_metric([state.name, state.status], 1.0)
            if state.balloon_actual is not None:
                actual.add_metric(vm, state.balloon_actual)
            if state.balloon_target is not None:
                target.add_metric(vm, state.balloon_target)
            if state.stats_last_update is not None:
                stats_update.add_metric(vm, state.stats_last_update)
            for stat, value in state.stats.items():
                family = stats.get(stat)
                if family is None:
                    family = stats[stat] = GaugeMetricFamily(
                        stat_metric_name(stat),
                        f"Guest memory statistic {stat}, as the guest last reported it",
                        labels=["vm"],
                    )
                family.add_metric(vm, value)
        yield from (up, running, status, actual, target, stats_update, last_answer)
        yield from (stats[name] for name in sorted(stats))
        yield from (events, reconnects)

    def _agent_metrics(self, states: list[VMState], health: AgentHealth) -> Iterator[Metric]:
        monitors = GaugeMetricFamily(
            "pyqmp_agent_monitors",
            "Monitors the agent watches, by the state of their connection",
            labels=["state"],
        )
        counts = dict.fromkeys(MONITOR_STATES, 0)
        for state in states:
            counts[state.monitor] = counts.get(state.monitor, 0) + 1
        for name, count in counts.items():
            monitors.add_metric([name], count)
        yield monitors
        dropped = CounterMetricFamily(
            "pyqmp_agent_dropped_events",
            "Events the agent dropped: 'monitor' when it fell "
            "behind a VM's events, 'nats' when NATS was away or slow",
            labels=["where"],
        )
        dropped.add_metric(["monitor"], health.dropped_monitor_events)
        dropped.add_metric(["nats"], health.dropped_nats_events)
        yield dropped
        yield CounterMetricFamily(
            "pyqmp_agent_published_events",
            "Events published to NATS",
            value=health.published_events,
        )
        if health.nats_connected is not None:
            yield GaugeMetricFamily(
                "pyqmp_agent_nats_connected",
                "1 while connected to NATS",
                value=1.0 if health.nats_connected else 0.0,
            )
            yield CounterMetricFamily(
                "pyqmp_agent_nats_reconnects",
                "Times the agent connected to NATS again",
                value=health.nats_reconnects,
            )
        yield GaugeMetricFamily(
            "pyqmp_agent_watch_skipped_sockets",
            "Sockets in the watched "
            "directory that were skipped (over the bound, names that "
            "cannot be a VM name, a stem already taken)",
            value=health.watch_skipped,
        )
