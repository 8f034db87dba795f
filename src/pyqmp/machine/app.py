"""Assemble and run the reference machine: schema, machine, monitors, human monitor.

The machine's API comes from its schema (``qapi/machine.json``): the dispatcher binds
the schema's commands to :class:`~.machine.Machine`'s typed methods through the
generated tables, introspection is computed from the same schema, and events go out
through the generated emitter.  A ``--compat`` policy other than the default is handed
to the dispatcher (which applies it to requests, replies and events) and decides what
``query-qmp-schema`` shows, as QEMU's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from importlib import resources

import msgspec

from .. import event_loop
from ..schema import load_schema
from ..schema.introspect import introspect_schema, zap_deprecated
from ..schema.model import Schema
from ..server.compat import DEFAULT_POLICY, CompatPolicy, CompatRules
from ..server.dispatch import Dispatcher
from ..server.errors import ServerError
from ..server.events import QEMU_THROTTLED_EVENTS
from ..server.runtime import DEFAULT_MAX_CONNECTIONS, QMPServer
from . import machine_qapi as api
from .guest_link import GuestEvents, GuestLink
from .hmp import HumanMonitor
from .machine import Machine, MachineConfig
from .options import MonitorAddress

# Commands whose answer never changes while the machine runs: encoded once.
CONSTANT_RESULTS = ("query-qmp-schema", "query-commands", "query-version")
# QEMU's throttled events, and the machine's own event a guest can trigger at will.
THROTTLED_EVENTS = {**QEMU_THROTTLED_EVENTS, "BALLOON_STATS_UPDATE": 1.0}


def schema_path() -> str:
    return str(resources.files("pyqmp.machine") / "qapi" / "machine.json")


@functools.cache
def machine_interface() -> tuple[Schema, list[api.CommandInfo]]:
    """The schema and command list every machine of this process shares
    (read once: a simulated fleet runs hundreds of machines in one process)."""
    schema = load_schema(schema_path())
    return schema, [api.CommandInfo(name=name) for name in schema.commands]


@functools.cache
def schema_info(hide_deprecated: bool) -> list[api.SchemaInfo]:
    """The machine's ``query-qmp-schema`` answer, shared the same way; under
    ``deprecated-output=hide`` without what QEMU drops (the rest, SchemaInfoEnum's
    deprecated ``values``, the reply filter hides)."""
    introspection = introspect_schema(machine_interface()[0])
    if hide_deprecated:
        introspection = zap_deprecated(introspection)
    return msgspec.convert(introspection, list[api.SchemaInfo])


class RunningMachine:
    """A machine with its QMP server, ready to listen."""

    def __init__(
        self,
        config: MachineConfig,
        guest_fault: str | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        compat: CompatPolicy = DEFAULT_POLICY,
    ) -> None:
        self.max_connections = max_connections
        self.schema, commands = machine_interface()
        self.server: QMPServer | None = None
        self.guest_fault = guest_fault
        self.events = api.Events(self._send_event)
        self.machine = Machine(config, self.events, self._request_exit, call_later=self._later)
        self.machine.set_human_monitor(HumanMonitor(self.machine).run)
        self.machine.commands_list = commands
        self.machine.schema_info = schema_info(compat.deprecated_output == "hide")
        self.dispatcher = Dispatcher(
            self.schema,
            self.machine,
            api.COMMAND_METHODS,
            api.COMMAND_ARGUMENTS,
            api.BOXED_COMMANDS,
            CONSTANT_RESULTS,
            None if compat == DEFAULT_POLICY else CompatRules(self.schema, compat),
        )
        version = self.machine.query_version()
        # QEMU's member order (major, minor, micro), so the greeting's bytes are QEMU's
        self.version = {
            "qemu": {
                "major": version.qemu.major,
                "minor": version.qemu.minor,
                "micro": version.qemu.micro,
            },
            "package": version.package,
        }

    def _later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    def _send_event(self, name: str, data: dict[str, object] | None) -> None:
        if self.server is not None:
            self.server.emit(name, data)

    def _request_exit(self) -> None:
        if self.server is not None:
            self.server.request_close()

    async def serve(self, addresses: Sequence[MonitorAddress], announce: bool = True) -> None:
        server = await self.listen(addresses, announce)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._signalled)
        machine = self.machine
        if machine.balloon_device is not None:
            link = GuestLink(
                loop,
                machine.config.ram_size,
                GuestEvents(
                    machine.guest_actual,
                    machine.guest_stats,
                    machine.guest_exited,
                ),
                self.guest_fault,
            )
            machine.attach_guest(link)
        try:
            await server.wait_closed()
        finally:
            if machine.guest is not None:
                machine.guest.kill()

    async def listen(self, addresses: Sequence[MonitorAddress], announce: bool) -> QMPServer:
        """Open the machine's monitors (and nothing else: no guest yet, no signals)."""
        server = self.server = QMPServer(
            self.dispatcher, self.version, THROTTLED_EVENTS, self.max_connections
        )
        try:
            for address in addresses:
                try:
                    if address.kind == "unix":
                        await server.listen_unix(address.path, address.options)
                    else:
                        port = await server.listen_tcp(address.host, address.port, address.options)
                        address = address._replace(port=port)
                except ServerError as error:  # say which monitor could not be set up
                    raise ServerError(f"monitor {address}: {error}") from None
                if announce:
                    print(f"pyqmp machine: QMP monitor on {address}", flush=True)
        except BaseException:
            server.close_now()  # the listeners already open, and their socket files
            raise
        return server

    def _signalled(self) -> None:
        # As QEMU on SIGTERM/SIGINT: the machine shuts down, and says why.
        self.events.shutdown(guest=False, reason="host-signal")
        self._request_exit()


def run(
    config: MachineConfig,
    addresses: Sequence[MonitorAddress],
    guest_fault: str | None = None,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    compat: CompatPolicy = DEFAULT_POLICY,
) -> int:
    """Run the machine until ``quit`` or a signal; return the exit status."""
    logging.basicConfig(format="pyqmp machine: %(message)s", level=logging.INFO)
    machine = RunningMachine(config, guest_fault, max_connections, compat)
    if compat != DEFAULT_POLICY:
        logging.getLogger(__name__).info("compat policy %s", compat.describe())
    try:
        event_loop.run(machine.serve(addresses))
    except (OSError, ServerError) as error:  # a listener that cannot be set up as asked
        print(f"pyqmp machine: {error}", file=sys.stderr)
        return 1
    return 0
