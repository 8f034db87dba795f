"""The reference machine: run state, identity, devices — and its QMP commands.

:class:`Machine` implements the ``Commands`` protocol generated from the machine's
schema (``qapi/machine.json``): each QMP command is one typed method, and the QMP
dispatcher, the human monitor and the tests all call these same methods.  Behaviour
follows QEMU 7.2 where QEMU has the command (run states and their events, the
balloon's error for a zero target, QOM paths and messages).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from .. import __version__
from ..server.errors import CommandError
from . import machine_qapi as api
from .balloon import BalloonDevice
from .qom import ObjectTree, QomObject

QEMU_API_LEVEL = api.VersionTriple(major=7, minor=2, micro=0)
PACKAGE = f"pyqmp {__version__}"
NULL_UUID = "00000000-0000-0000-0000-000000000000"
MACHINE_TYPE = "pc-q35-7.2-machine"
BALLOON_TYPE = "virtio-balloon-pci"

# The run states the machine uses (QEMU's names).
PRELAUNCH: api.RunState = "prelaunch"
RUNNING: api.RunState = "running"
PAUSED: api.RunState = "paused"
SHUTDOWN: api.RunState = "shutdown"


class MachineConfig(msgspec.Struct, kw_only=True):
    """What the command line sets."""

    ram_size: int = 128 << 20
    start_paused: bool = False  # -S
    name: str | None = None
    uuid: str | None = None
    balloon_id: str | None = "balloon0"


class Machine:
    """The machine's state and its commands (``machine_qapi.Commands``)."""

    def __init__(
        self,
        config: MachineConfig,
        events: api.Events,
        request_exit: Callable[[], None],
        human_monitor: Callable[[str], str] | None = None,
    ) -> None:
        self.config = config
        self.events = events
        self._request_exit = request_exit
        self._human_monitor = human_monitor
        self.run_state: api.RunState = PRELAUNCH if config.start_paused else RUNNING
        self.commands_list: list[api.CommandInfo] = []
        self.schema_info: list[api.SchemaInfo] = []
        self.qom = ObjectTree()
        machine = self.qom.root.add_child("machine", QomObject(MACHINE_TYPE))
        peripheral = machine.add_child("peripheral", QomObject("container"))
        self.balloon_device: BalloonDevice | None = None
        if config.balloon_id is not None:
            self.balloon_device = BalloonDevice(config.ram_size, self._balloon_changed)
            peripheral.add_child(config.balloon_id, self.balloon_device.qom_object(BALLOON_TYPE))

    def set_human_monitor(self, human_monitor: Callable[[str], str]) -> None:
        self._human_monitor = human_monitor

    def _balloon_changed(self, actual: int) -> None:
        self.events.balloon_change(actual=actual)

    # -- monitor control ---------------------------------------------------------------

    def qmp_capabilities(
        self, *, enable: list[api.QMPCapability] | msgspec.UnsetType = msgspec.UNSET
    ) -> None:
        # Negotiation is the protocol engine's; in command mode QEMU refuses it there.
        return None

    def query_version(self) -> api.VersionInfo:
        return api.VersionInfo(qemu=QEMU_API_LEVEL, package=PACKAGE)

    def query_commands(self) -> list[api.CommandInfo]:
        return self.commands_list

    def query_qmp_schema(self) -> list[api.SchemaInfo]:
        return self.schema_info

    def quit(self) -> None:
        self.events.shutdown(guest=False, reason="host-qmp-quit")
        self._request_exit()

    def human_monitor_command(
        self, *, command_line: str, cpu_index: api.Int | msgspec.UnsetType = msgspec.UNSET
    ) -> str:
        if self._human_monitor is None:
            raise CommandError("The human monitor is not available")
        return self._human_monitor(command_line)

    # -- run state ---------------------------------------------------------------------

    def query_status(self) -> api.StatusInfo:
        return api.StatusInfo(
            running=self.run_state == RUNNING, singlestep=False, status=self.run_state
        )

    def stop(self) -> None:
        # As QEMU: only a running guest stops (and says so); prelaunch stays prelaunch.
        if self.run_state == RUNNING:
            self.run_state = PAUSED
            self.events.stop()

    def cont(self) -> None:
        if self.run_state == SHUTDOWN:
            raise CommandError("Resetting the Virtual Machine is required")
        if self.run_state != RUNNING:
            self.run_state = RUNNING
            self.events.resume()

    def system_reset(self) -> None:
        self.events.reset(guest=False, reason="host-qmp-system-reset")
        # As QEMU: a machine that is not running comes back from a reset in prelaunch.
        if self.run_state != RUNNING:
            self.run_state = PRELAUNCH

    def system_powerdown(self) -> None:
        self.events.powerdown()

    # -- identity ----------------------------------------------------------------------

    def query_name(self) -> api.NameInfo:
        if self.config.name is None:
            return api.NameInfo()
        return api.NameInfo(name=self.config.name)

    def query_uuid(self) -> api.UuidInfo:
        return api.UuidInfo(UUID=self.config.uuid or NULL_UUID)

    # -- balloon -----------------------------------------------------------------------

    def _balloon(self) -> BalloonDevice:
        if self.balloon_device is None:
            raise CommandError("No balloon device has been activated", "DeviceNotActive")
        return self.balloon_device

    def balloon(self, *, value: api.Int) -> None:
        self._balloon().set_target(value)

    def query_balloon(self) -> api.BalloonInfo:
        return api.BalloonInfo(actual=self._balloon().actual)

    # -- object model ------------------------------------------------------------------

    def qom_list(self, *, path: str) -> list[api.ObjectPropertyInfo]:
        obj = self.qom.resolve(path)
        return [
            api.ObjectPropertyInfo(name=prop.name, type=prop.type)
            for prop in obj.properties.values()
        ]

    def qom_get(self, *, path: str, property: str) -> Any:
        return self.qom.get(path, property)

    def qom_set(self, *, path: str, property: str, value: Any) -> None:
        self.qom.set(path, property, value)
