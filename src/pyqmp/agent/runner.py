"""``pyqmp agent`` put together: the agent, its metrics page and server, its NATS bridge.

:func:`serve` runs until cancelled (the command line cancels it on SIGINT or SIGTERM)
and says on standard output where it serves, one line each, so that a supervisor or a
test can read the metrics URL when the port was picked (``--metrics 127.0.0.1:0``).
The metrics page is rendered on the event loop every ``render_interval`` seconds and
served from another thread (:mod:`.exporter`), so the page is at most that old and a
scrape never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from collections.abc import Callable
from typing import NamedTuple

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from .agent import Agent, AgentSettings
from .exporter import MetricsPage, MetricsServer
from .metrics import AgentCollector
from .nats_bridge import NatsBridge
from .options import ListenAddress, MonitorSpec

log = logging.getLogger("pyqmp.agent")

DEFAULT_RENDER_INTERVAL = 1.0


class AgentConfig(NamedTuple):
    settings: AgentSettings
    monitors: list[MonitorSpec]
    watch: str | None = None
    metrics: ListenAddress | None = None
    nats: list[str] | None = None
    render_interval: float = DEFAULT_RENDER_INTERVAL


def raise_file_limit() -> None:
    """Every monitor is a file descriptor: allow as many as the system lets us."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def metrics_registry(agent: Agent, bridge: NatsBridge | None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(agent.states, lambda: agent.health(bridge)))
    ProcessCollector(registry=registry)  # the agent's own RSS, CPU and descriptors
    return registry


async def serve(config: AgentConfig, announce: Callable[[str], None] = print) -> None:
    raise_file_limit()
    agent = Agent(config.settings)
    bridge = None
    tasks: list[asyncio.Task[None]] = []
    server = None
    try:
        if config.nats:
            bridge = NatsBridge(config.nats, agent)
            agent.sink = bridge
            tasks.append(asyncio.create_task(bridge.run(), name="nats"))
            announce(f"pyqmp agent: host {agent.host} on NATS {','.join(config.nats)}")
        for spec in config.monitors:
            agent.add(spec.name, spec.address, "qmp")
        if config.watch is not None:
            static = frozenset(spec.name for spec in config.monitors)
            tasks.append(asyncio.create_task(agent.watch(config.watch, static), name="watch"))
            announce(f"pyqmp agent: watching {config.watch}")
        if config.metrics is not None:
            registry = metrics_registry(agent, bridge)
            page = MetricsPage()
            page.update(generate_latest(registry))
            server = MetricsServer(page, config.metrics.host, config.metrics.port)
            server.start()
            announce(f"pyqmp agent: metrics on {server.url}")
            tasks.append(
                asyncio.create_task(render(registry, page, config.render_interval), name="render")
            )
        if tasks:
            await asyncio.gather(*tasks)
        else:
            await asyncio.Event().wait()  # monitors only: until cancelled
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await agent.close()
        if server is not None:
            server.close()


async def render(registry: CollectorRegistry, page: MetricsPage, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        page.update(generate_latest(registry))
