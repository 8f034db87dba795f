"""The reference machine: run state, identity, devices — and its QMP commands.

:class:`Machine` implements the ``Commands`` protocol generated from the machine's
schema (``qapi/machine.json``): each QMP command is one typed method, and the QMP
dispatcher, the human monitor and the tests all call these same methods (all but
``qmp_capabilities``, which the protocol engine runs itself).  Behaviour
follows QEMU 7.2 where QEMU has the command (the balloon's error for a zero target, QOM
paths and messages).  The run state moves only by the table of :mod:`.run_state`: a
command or a guest's exit looks its row up and carries it out (guest action, events,
new state); nothing here decides a state of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from .. import __version__
from ..server.errors import DEVICE_NOT_ACTIVE, CommandError
from . import machine_qapi as api
from .balloon import BalloonDevice
from .qom import ObjectTree, QomObject
from .run_state import (
    CAUSES,
    FREEZE,
    KILL,
    PAUSED,
    POWER_BUTTON,
    PRELAUNCH,
    RUNNING,
    SHUTDOWN,
    START,
    THAW,
    GuestAction,
    Trigger,
    step,
)

QEMU_API_LEVEL = api.VersionTriple(major=7, minor=2, micro=0)
PACKAGE = f"pyqmp {__version__}"
NULL_UUID = "00000000-0000-0000-0000-000000000000"
MACHINE_TYPE = "pc-q35-7.2-machine"
BALLOON_TYPE = "virtio-balloon-pci"

__all__ = ["PAUSED", "PRELAUNCH", "RUNNING", "SHUTDOWN", "Machine", "MachineConfig"]


class MachineConfig(msgspec.Struct, kw_only=True):
    """What the command line sets."""

    ram_size: int = 128 << 20
    start_paused: bool = False  # -S
    name: str | None = None
    uuid: str | None = None
    balloon_id: str | None = "balloon0"


class GuestControl(Protocol):
    """The guest process as the machine drives it (see ``guest_link.GuestLink``).

    Every call returns at once; the guest's answers come back through the machine's
    ``guest_*`` methods.
    """

    @property
    def driver_state(self) -> api.BalloonDriverState: ...

    @property
    def malformed_frames(self) -> int: ...

    def start(self) -> None: ...

    def kill(self) -> None: ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def powerdown(self) -> None: ...

    def set_target(self, pages: int) -> None: ...

    def request_stats(self) -> bool: ...

    def set_fault(self, mode: str) -> None: ...


class Machine:
    """The machine's state and its commands (``machine_qapi.Commands``)."""

    def __init__(
        self,
        config: MachineConfig,
        events: api.Events,
        request_exit: Callable[[], None],
        human_monitor: Callable[[str], str] | None = None,
        call_later: Callable[[float, Callable[[], None]], Any] | None = None,
    ) -> None:
        self.config = config
        self.events = events
        self._request_exit = request_exit
        self._human_monitor = human_monitor
        self.guest: GuestControl | None = None
        self.run_state: api.RunState = PRELAUNCH if config.start_paused else RUNNING
        self.commands_list: list[api.CommandInfo] = []
        self.schema_info: list[api.SchemaInfo] = []
        self.qom = ObjectTree()
        machine = self.qom.root.add_child("machine", QomObject(MACHINE_TYPE))
        peripheral = machine.add_child("peripheral", QomObject("container"))
        self.balloon_device: BalloonDevice | None = None
        if config.balloon_id is not None:
            self.balloon_device = BalloonDevice(
                config.ram_size, self._balloon_changed, self._stats_arrived, call_later
            )
            peripheral.add_child(config.balloon_id, self.balloon_device.qom_object(BALLOON_TYPE))

    def set_human_monitor(self, human_monitor: Callable[[str], str]) -> None:
        self._human_monitor = human_monitor

    def _balloon_changed(self, actual: int) -> None:
        self.events.balloon_change(actual=actual)

    def _stats_arrived(self, stats: dict[str, int], last_update: int) -> None:
        self.events.balloon_stats_update(stats=_guest_stats(stats), last_update=last_update)

    # -- the guest -------------------------------------------------------------------------

    def attach_guest(self, guest: GuestControl) -> None:
        """Give the machine its guest; it starts now unless -S holds it until 'cont'."""
        self.guest = guest
        if self.balloon_device is not None:
            self.balloon_device.guest = guest
        self._move(Trigger.BOOT)

    def guest_actual(self, pages: int) -> None:
        if self.balloon_device is not None:
            self.balloon_device.report_actual(pages)

    def guest_stats(self, entries: list[tuple[int, int]]) -> None:
        if self.balloon_device is not None:
            self.balloon_device.report_stats(entries)

    def guest_exited(self, status: int) -> None:
        """The guest process ended: a clean exit is a guest shutdown, anything else a
        panic.  As QEMU with -no-shutdown: SHUTDOWN, then the machine stops and stays up."""
        self._move(Trigger.GUEST_SHUTDOWN if status == 0 else Trigger.GUEST_PANIC)

    # -- the run state -------------------------------------------------------------------

    def _move(self, trigger: Trigger) -> None:
        """Carry out the run-state table's row for ``trigger``."""
        transition = step(self.run_state, trigger)
        self._ask_guest(transition.guest)
        for event in transition.events:
            self._announce(event, trigger)
        self.run_state = transition.next_state

    def _ask_guest(self, action: GuestAction) -> None:
        guest = self.guest
        if guest is None:
            return  # a machine without a balloon has no guest process
        if action is START:
            guest.start()
            if self.balloon_device is not None:
                self.balloon_device.guest_replaced()
        elif action is FREEZE:
            guest.freeze()
        elif action is THAW:
            guest.thaw()
        elif action is KILL:
            guest.kill()
        elif action is POWER_BUTTON:
            guest.powerdown()

    def _announce(self, event: str, trigger: Trigger) -> None:
        events = self.events
        if event == "STOP":
            events.stop()
        elif event == "RESUME":
            events.resume()
        elif event == "POWERDOWN":
            events.powerdown()
        else:
            cause = CAUSES[trigger]
            if event == "SHUTDOWN":
                events.shutdown(guest=cause.guest, reason=cause.reason)
            else:
                events.reset(guest=cause.guest, reason=cause.reason)

    # -- monitor control ---------------------------------------------------------------

    def query_version(self) -> api.VersionInfo:
        return api.VersionInfo(qemu=QEMU_API_LEVEL, package=PACKAGE)

    def query_commands(self) -> list[api.CommandInfo]:
        return self.commands_list

    def query_qmp_schema(self) -> list[api.SchemaInfo]:
        return self.schema_info

    def quit(self) -> None:
        self._move(Trigger.QUIT)
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
        self._move(Trigger.STOP)

    def cont(self) -> None:
        self._move(Trigger.CONT)

    def system_reset(self) -> None:
        self._move(Trigger.RESET)

    def system_powerdown(self) -> None:
        self._move(Trigger.POWERDOWN)  # a healthy guest shuts down; a hung one does not

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
            raise CommandError("No balloon device has been activated", DEVICE_NOT_ACTIVE)
        return self.balloon_device

    def balloon(self, *, value: api.Int) -> None:
        self._balloon().set_target(value)

    def query_balloon(self) -> api.BalloonInfo:
        return api.BalloonInfo(actual=self._balloon().actual)

    def query_balloon_stats(self) -> api.BalloonStatsInfo:
        device = self._balloon()
        info = api.BalloonStatsInfo(
            stats=_guest_stats(device.stats),
            request_outstanding=device.request_since is not None,
            polling_interval=device.poll_interval,
            driver=self._driver_state(),
            actual=device.actual,
            target=device.target,
            malformed_frames=self.guest.malformed_frames if self.guest is not None else 0,
        )
        if device.stats_last_update:
            info.last_update = device.stats_last_update
        if device.request_since is not None:
            info.request_since = int(device.request_since)
        return info

    def _driver_state(self) -> api.BalloonDriverState:
        return "absent" if self.guest is None else self.guest.driver_state

    def balloon_stats_refresh(self) -> None:
        self._balloon().request_stats()

    def x_guest_fault(self, *, mode: api.GuestFaultMode) -> None:
        if self.guest is None:
            raise CommandError("The machine has no guest process")
        self.guest.set_fault(mode)

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


def _guest_stats(stats: dict[str, int]) -> api.BalloonGuestStats:
    """The typed form of the stats the guest reported (only those)."""
    return api.BalloonGuestStats(**{name.replace("-", "_"): value for name, value in stats.items()})
