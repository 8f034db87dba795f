"""The QMP server: listeners, monitors, the event bus.

Serves one schema's commands (through a :class:`~.dispatch.Dispatcher`) on any number
of unix and TCP listeners.  A unix socket is created with mode 0600; a TCP listener
binds to loopback unless told otherwise.  Events go to every monitor that has
finished capabilities negotiation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from typing import Any

from .dispatch import Dispatcher
from .events import EventBus
from .monitor import Monitor


class QMPServer:
    """Serve ``dispatcher``'s commands; ``version`` is what the greeting reports
    (``query-version``'s answer: ``{"qemu": {"major", "minor", "micro"}, "package"}``)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        version: dict[str, Any],
        throttled_events: dict[str, float] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.version = version
        self.loop = asyncio.get_running_loop()
        self.events = EventBus(self.loop.call_later, throttled_events)
        self.monitors: set[Monitor] = set()
        self._servers: list[asyncio.Server] = []
        self._unix_paths: list[str] = []
        self._closed = asyncio.Event()

    def _make_monitor(self) -> Monitor:
        monitor = Monitor(self.dispatcher, self.version, self.events.add, self._forget)
        self.monitors.add(monitor)
        return monitor

    def _forget(self, monitor: Monitor) -> None:
        self.monitors.discard(monitor)
        self.events.remove(monitor)

    def emit(self, name: str, data: dict[str, Any] | None) -> None:
        """Send an event to every negotiated monitor (throttled as QEMU throttles it)."""
        self.events.emit(name, data)

    async def listen_unix(self, path: str) -> None:
        """Listen on a unix socket at ``path`` (replacing a stale socket), mode 0600."""
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.stat(path).st_mode):
                os.unlink(path)
        old_umask = os.umask(0o177)
        try:
            server = await self.loop.create_unix_server(self._make_monitor, path)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        self._servers.append(server)
        self._unix_paths.append(path)

    async def listen_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on TCP (loopback by default); return the port."""
        server = await self.loop.create_server(self._make_monitor, host, port, reuse_address=True)
        self._servers.append(server)
        sockets = server.sockets
        return int(sockets[0].getsockname()[1]) if sockets else port

    def request_close(self) -> None:
        """Stop serving once the current reply is out (``quit``)."""
        self.loop.call_soon(self.close_now)

    def close_now(self) -> None:
        """Close the listeners (removing their socket files) and every monitor."""
        for server in self._servers:
            server.close()
        for monitor in list(self.monitors):
            if monitor.transport is not None:
                monitor.transport.close()  # writes what is buffered, then closes
        for path in self._unix_paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._closed.set()

    async def wait_closed(self, drain_timeout: float = 2.0) -> None:
        """Wait until the server is closed and its clients have been written to."""
        await self._closed.wait()
        deadline = self.loop.time() + drain_timeout
        while self.monitors and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
