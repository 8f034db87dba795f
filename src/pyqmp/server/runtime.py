"""The QMP server: listeners, the monitors they admit, the event bus.

Serves one schema's commands (through a :class:`~.dispatch.Dispatcher`) on any number
of unix and TCP listeners, each with its own :class:`ListenerOptions`: who may connect
(unix peer credentials, a TLS client certificate), what its monitors may run (an
:class:`~.access.AccessPolicy`, applied through a view cached per listener), and its
limits.  A unix socket is created with mode 0600 unless told otherwise; a TCP listener
binds to loopback unless told otherwise.  The one rule of the front door: a connection
the server will not serve — over a cap, a refused peer — is closed before the greeting,
with the reason in the log, and never disturbs the monitors already connected.  Events
go to every monitor that has finished capabilities negotiation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from typing import Any, NamedTuple

from .access import ANY_PEER, FULL_ACCESS, AccessPolicy, CommandView, PeerRule, peer_credentials
from .dispatch import Dispatcher
from .events import EventBus
from .monitor import Commands, Monitor
from .tls import TLSCredentials, peer_subject, server_context

log = logging.getLogger(__name__)

# Connections a listener's kernel queue holds before the server accepts them: a burst of
# clients must wait, not be refused (asyncio's default of 100 refuses a 100-client burst).
LISTEN_BACKLOG = 4096
# Concurrent monitors over all listeners, unless the server is told otherwise.
DEFAULT_MAX_CONNECTIONS = 256
# Seconds a client has to finish capabilities negotiation (and a TLS handshake).
DEFAULT_NEGOTIATION_TIMEOUT = 30.0


class ListenerOptions(NamedTuple):
    """How one listener admits and serves its clients."""

    policy: AccessPolicy = FULL_ACCESS
    peers: PeerRule = ANY_PEER  # unix only
    mode: int = 0o600  # unix only: the socket file's permissions
    tls: TLSCredentials | None = None  # tcp only
    max_connections: int | None = None  # None: only the server's total cap
    negotiation_timeout: float = DEFAULT_NEGOTIATION_TIMEOUT


DEFAULT_LISTENER = ListenerOptions()


class _Listener:
    __slots__ = ("commands", "kind", "monitors", "name", "options")

    def __init__(self, name: str, kind: str, options: ListenerOptions, commands: Commands):
        self.name = name
        self.kind = kind
        self.options = options
        self.commands = commands
        self.monitors = 0


class QMPServer:
    """Serve ``dispatcher``'s commands; ``version`` is what the greeting reports
    (``query-version``'s answer: ``{"qemu": {"major", "minor", "micro"}, "package"}``)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        version: dict[str, Any],
        throttled_events: dict[str, float] | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.dispatcher = dispatcher
        self.version = version
        self.max_connections = max_connections
        self.loop = asyncio.get_running_loop()
        self.events = EventBus(self.loop.call_later, throttled_events)
        self.monitors: set[Monitor] = set()
        self.refused = 0  # connections closed before the greeting, for any reason
        self._servers: list[asyncio.Server] = []
        self._unix_paths: list[str] = []
        self._closed = asyncio.Event()
        self._views: dict[AccessPolicy, Commands] = {FULL_ACCESS: dispatcher}
        self._listener_of: dict[Monitor, _Listener] = {}
        self._timers: dict[Monitor, asyncio.TimerHandle] = {}

    def _view(self, policy: AccessPolicy) -> Commands:
        # One view per policy: its filtered introspection is computed once, shared.
        view = self._views.get(policy)
        if view is None:
            view = self._views[policy] = CommandView(self.dispatcher, policy)
        return view

    def _factory(self, listener: _Listener) -> Any:
        def make_monitor() -> Monitor:
            return Monitor(
                listener.commands,
                self.version,
                self._negotiated,
                self._forget,
                lambda monitor: self._admit(listener, monitor),
            )

        return make_monitor

    def _admit(self, listener: _Listener, monitor: Monitor) -> bool:
        transport = monitor.transport
        assert transport is not None
        identity, refusal = self._identify(listener, transport)
        if refusal is None and len(self.monitors) >= self.max_connections:
            refusal = f"the server's cap of {self.max_connections} connections is reached"
        cap = listener.options.max_connections
        if refusal is None and cap is not None and listener.monitors >= cap:
            refusal = f"the listener's cap of {cap} connections is reached"
        if refusal is not None:
            self.refused += 1
            log.warning("monitor %s: refused %s: %s", listener.name, identity, refusal)
            return False
        monitor.identity = identity
        listener.monitors += 1
        self._listener_of[monitor] = listener
        self.monitors.add(monitor)
        timeout = listener.options.negotiation_timeout
        self._timers[monitor] = self.loop.call_later(timeout, self._negotiation_expired, monitor)
        log.info("monitor %s: connected %s", listener.name, identity)
        return True

    def _identify(self, listener: _Listener, transport: Any) -> tuple[str, str | None]:
        """Who is connecting (for the log), and why they are refused (None: admitted)."""
        if listener.kind == "unix":
            sock = transport.get_extra_info("socket")
            try:
                peer = peer_credentials(sock)
            except (OSError, AttributeError) as error:
                return "an unknown peer", f"no peer credentials ({error})"
            identity = f"pid {peer.pid} uid {peer.uid} gid {peer.gid}"
            if not listener.options.peers.admits(peer.uid, peer.gid):
                return identity, "uid and gid not in the listener's allow-list"
            return identity, None
        peername = transport.get_extra_info("peername")
        identity = f"{peername[0]}:{peername[1]}" if peername else "an unknown peer"
        if listener.options.tls is not None:
            subject = peer_subject(transport.get_extra_info("peercert"))
            identity += f" ({subject or 'no client certificate'})"
        return identity, None

    def _negotiation_expired(self, monitor: Monitor) -> None:
        self._timers.pop(monitor, None)
        if not monitor.negotiated and monitor.transport is not None:
            listener = self._listener_of.get(monitor)
            log.warning(
                "monitor %s: closed %s: no capabilities negotiation within %g s",
                listener.name if listener else "?",
                monitor.identity,
                listener.options.negotiation_timeout if listener else 0,
            )
            monitor.transport.abort()

    def _negotiated(self, monitor: Monitor) -> None:
        timer = self._timers.pop(monitor, None)
        if timer is not None:
            timer.cancel()
        self.events.add(monitor)

    def _forget(self, monitor: Monitor) -> None:
        timer = self._timers.pop(monitor, None)
        if timer is not None:
            timer.cancel()
        listener = self._listener_of.pop(monitor, None)
        if listener is not None:
            listener.monitors -= 1
        self.monitors.discard(monitor)
        self.events.remove(monitor)

    def emit(self, name: str, data: dict[str, Any] | None) -> None:
        """Send an event to every negotiated monitor (throttled as QEMU throttles it)."""
        self.events.emit(name, data)

    async def listen_unix(self, path: str, options: ListenerOptions = DEFAULT_LISTENER) -> None:
        """Listen on a unix socket at ``path`` (replacing a stale socket), with ``options``
        (mode 0600 by default)."""
        listener = _Listener(f"unix:{path}", "unix", options, self._view(options.policy))
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.stat(path).st_mode):
                os.unlink(path)
        old_umask = os.umask(0o177)  # no moment at which others could connect
        try:
            server = await self.loop.create_unix_server(
                self._factory(listener), path, backlog=LISTEN_BACKLOG
            )
        finally:
            os.umask(old_umask)
        self._servers.append(server)
        self._unix_paths.append(path)
        os.chmod(path, options.mode)

    async def listen_tcp(
        self, host: str = "127.0.0.1", port: int = 0, options: ListenerOptions = DEFAULT_LISTENER
    ) -> int:
        """Listen on TCP (loopback by default), TLS if ``options.tls``; return the port."""
        context = server_context(options.tls) if options.tls is not None else None
        commands = self._view(options.policy)
        listener = _Listener(f"tcp:{host}:{port}", "tcp", options, commands)
        server = await self.loop.create_server(
            self._factory(listener),
            host,
            port,
            reuse_address=True,
            backlog=LISTEN_BACKLOG,
            ssl=context,
            ssl_handshake_timeout=options.negotiation_timeout if context else None,
        )
        self._servers.append(server)
        sockets = server.sockets
        bound = int(sockets[0].getsockname()[1]) if sockets else port
        listener.name = f"tcp:{host}:{bound}" + (",tls" if context else "")
        return bound

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
