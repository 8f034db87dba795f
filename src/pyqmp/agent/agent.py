"""The agent: the set of VMs it watches, and their monitors.

VMs come from ``--qmp NAME=ADDRESS`` (for the agent's whole life) and from ``--watch
DIR`` (added when a socket appears, replaced when it is replaced, dropped when it
vanishes).  Each VM has its :class:`~.state.VMState` and one :class:`~.monitor.VMMonitor`
task; nothing here waits on a VM.  The set is bounded by the watcher's bound plus the
command line; a VM that is dropped takes its task, its connection and its series with it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..client import Address
from ..protocol.errors import ErrorClass
from .metrics import AgentHealth
from .monitor import EventSink, MonitorSettings, VMMonitor, error_reply
from .nats_bridge import NatsBridge
from .state import VMState
from .watch import DirectoryWatcher

log = logging.getLogger("pyqmp.agent")

DEFAULT_WATCH_INTERVAL = 1.0


class AgentSettings(NamedTuple):
    host: str = socket.gethostname()
    monitor: MonitorSettings = MonitorSettings()
    command_timeout: float = 5.0  # NATS commands' deadline when the request names none
    watch_interval: float = DEFAULT_WATCH_INTERVAL


class _VM(NamedTuple):
    state: VMState
    monitor: VMMonitor
    task: asyncio.Task[None]


class Agent:
    """The VMs of one host.  Use from a running event loop."""

    def __init__(self, settings: AgentSettings, sink: EventSink | None = None) -> None:
        self.settings = settings
        self.host = settings.host
        self.command_timeout = settings.command_timeout
        self.sink = sink
        self.started = time.time()
        self._vms: dict[str, _VM] = {}
        self._watcher: DirectoryWatcher | None = None
        self._dropped_by_removed = 0  # events dropped by VMs no longer watched

    # -- the set of VMs ------------------------------------------------------------------

    def add(self, name: str, address: Address, source: str) -> None:
        """Start watching a VM (replacing one of the same name)."""
        self.remove(name)
        state = VMState(name, str(address), source)
        monitor = VMMonitor(state, address, self.settings.monitor, self.sink)
        task = asyncio.get_running_loop().create_task(monitor.run(), name=f"vm {name}")
        self._vms[name] = _VM(state, monitor, task)

    def remove(self, name: str) -> None:
        vm = self._vms.pop(name, None)
        if vm is not None:
            vm.task.cancel()
            self._dropped_by_removed += vm.state.dropped_events

    def states(self) -> list[VMState]:
        return [vm.state for vm in self._vms.values()]

    def __contains__(self, name: object) -> bool:
        return name in self._vms

    async def close(self) -> None:
        tasks = [vm.task for vm in self._vms.values()]
        self._vms.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the watched directory -----------------------------------------------------------

    async def watch(self, directory: str, static_names: frozenset[str] = frozenset()) -> None:
        """Follow ``directory`` until cancelled (see :mod:`.watch`)."""
        watcher = self._watcher = DirectoryWatcher(directory, static_names)
        error: str | None = None
        while True:
            changes = watcher.scan()
            if watcher.error != error:
                error = watcher.error
                if error is not None:
                    log.warning("watch: %s", error)
            for name in changes.removed:
                log.info("watch: %s vanished", name)
                self.remove(name)
            for name, found in changes.added.items():
                log.info("watch: %s appeared at %s", name, found.path)
                self.add(name, Address(path=found.path), "watch")
            await asyncio.sleep(self.settings.watch_interval)

    # -- what the outside asks -----------------------------------------------------------

    async def execute(
        self, vm: str, command: str, arguments: Mapping[str, object] | None, deadline: float
    ) -> dict[str, Any]:
        entry = self._vms.get(vm)
        if entry is None:
            return error_reply(f"{self.host}: no VM named '{vm}'", ErrorClass.DEVICE_NOT_FOUND)
        return await entry.monitor.execute(command, arguments, deadline)

    def list_reply(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "vms": [vm.state.summary() for vm in self._vms.values()],
        }

    def health(self, nats: NatsBridge | None = None) -> AgentHealth:
        dropped = self._dropped_by_removed + sum(
            vm.state.dropped_events for vm in self._vms.values()
        )
        return AgentHealth(
            dropped_monitor_events=dropped,
            dropped_nats_events=nats.dropped if nats is not None else 0,
            published_events=nats.published if nats is not None else 0,
            nats_connected=nats.connected if nats is not None else None,
            nats_reconnects=nats.reconnects if nats is not None else 0,
            watch_skipped=self._watcher.skipped if self._watcher is not None else 0,
        )
