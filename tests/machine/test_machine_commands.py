"""The machine's typed command methods, called directly (the internal API is the external one)."""

from __future__ import annotations

from typing import Any

import pytest

from pyqmp.machine import machine_qapi as api
from pyqmp.machine.hmp import HumanMonitor
from pyqmp.machine.machine import Machine, MachineConfig
from pyqmp.server.errors import CommandError

BALLOON = "/machine/peripheral/balloon0"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.exits = 0

    def send(self, name: str, data: dict[str, Any] | None) -> None:
        self.events.append((name, data))

    def exit(self) -> None:
        self.exits += 1


def make(**config: Any) -> tuple[Machine, Recorder]:
    recorder = Recorder()
    machine = Machine(MachineConfig(**config), api.Events(recorder.send), recorder.exit)
    machine.set_human_monitor(HumanMonitor(machine).run)
    return machine, recorder


def test_prelaunch_cont_stop_cont_with_events() -> None:
    machine, recorder = make(start_paused=True)
    assert machine.query_status() == api.StatusInfo(
        running=False, singlestep=False, status="prelaunch"
    )
    machine.stop()  # as QEMU: stopping a machine that never ran changes nothing
    assert machine.query_status().status == "prelaunch"
    assert recorder.events == []
    machine.cont()
    assert machine.query_status().running
    machine.cont()  # already running: no second RESUME
    machine.stop()
    assert machine.query_status().status == "paused"
    assert [name for name, _ in recorder.events] == ["RESUME", "STOP"]


def test_reset_powerdown_quit_events() -> None:
    machine, recorder = make()
    machine.system_reset()
    machine.system_powerdown()
    machine.quit()
    assert recorder.events == [
        ("RESET", {"guest": False, "reason": "host-qmp-system-reset"}),
        ("POWERDOWN", None),
        ("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"}),
    ]
    assert recorder.exits == 1


def test_identity() -> None:
    machine, _ = make(name="vm1", uuid="12345678-1234-5678-1234-567812345678")
    assert machine.query_name().name == "vm1"
    assert machine.query_uuid().UUID == "12345678-1234-5678-1234-567812345678"
    unnamed, _ = make()
    assert unnamed.query_name() == api.NameInfo()
    assert unnamed.query_uuid().UUID == "00000000-0000-0000-0000-000000000000"


def test_version_reports_qemu_api_level_and_pyqmp_package() -> None:
    machine, _ = make()
    version = machine.query_version()
    assert (version.qemu.major, version.qemu.minor, version.qemu.micro) == (7, 2, 0)
    assert version.package.startswith("pyqmp ")


def test_balloon_without_guest_driver_keeps_actual() -> None:
    machine, recorder = make(ram_size=512 << 20)
    assert machine.query_balloon().actual == 512 << 20
    machine.balloon(value=256 << 20)  # returns at once; no driver moves it
    assert machine.query_balloon().actual == 512 << 20
    assert recorder.events == []
    with pytest.raises(CommandError) as error:
        machine.balloon(value=0)
    assert error.value.desc == "Parameter 'target' expects a size"


def test_balloon_actual_change_emits_event() -> None:
    machine, recorder = make(ram_size=64 << 20)
    assert machine.balloon_device is not None
    machine.balloon_device.report_actual(1024)
    machine.balloon_device.report_actual(1024)  # no change, no event
    assert recorder.events == [("BALLOON_CHANGE", {"actual": (64 << 20) - (1024 << 12)})]


def test_no_balloon_device() -> None:
    machine, _ = make(balloon_id=None)
    with pytest.raises(CommandError) as error:
        machine.query_balloon()
    assert error.value.error_class == "DeviceNotActive"


def test_qom_paths_and_properties() -> None:
    machine, _ = make()
    names = {info.name: info.type for info in machine.qom_list(path=BALLOON)}
    assert names["type"] == "string"
    assert names["guest-stats-polling-interval"] == "int"
    assert machine.qom_get(path=BALLOON, property="type") == "virtio-balloon-pci"
    stats = machine.qom_get(path=BALLOON, property="guest-stats")
    assert stats["last-update"] == 0
    assert set(stats["stats"]) == {
        "stat-swap-in",
        "stat-swap-out",
        "stat-major-faults",
        "stat-minor-faults",
        "stat-free-memory",
        "stat-total-memory",
        "stat-available-memory",
        "stat-disk-caches",
        "stat-htlb-pgalloc",
        "stat-htlb-pgfail",
    }
    assert set(stats["stats"].values()) == {2**64 - 1}
    machine.qom_set(path=BALLOON, property="guest-stats-polling-interval", value=2)
    assert machine.qom_get(path=BALLOON, property="guest-stats-polling-interval") == 2


@pytest.mark.parametrize(
    ("path", "prop", "value", "error_class", "desc"),
    [
        ("/machine/nope", "type", None, "DeviceNotFound", "Device '/machine/nope' not found"),
        (BALLOON, "nope", None, "GenericError", "Property 'virtio-balloon-pci.nope' not found"),
        (
            BALLOON,
            "guest-stats-polling-interval",
            -1,
            "GenericError",
            "timer value must be greater than zero",
        ),
        (BALLOON, "guest-stats-polling-interval", 2**32, "GenericError", "timer value is too big"),
        (
            BALLOON,
            "guest-stats-polling-interval",
            "x",
            "GenericError",
            "Invalid parameter type for 'guest-stats-polling-interval', expected: integer",
        ),
    ],
)
def test_qom_errors_as_qemu(path: str, prop: str, value: Any, error_class: str, desc: str) -> None:
    machine, _ = make()
    with pytest.raises(CommandError) as error:
        if value is None:
            machine.qom_get(path=path, property=prop)
        else:
            machine.qom_set(path=path, property=prop, value=value)
    assert (error.value.error_class, error.value.desc) == (error_class, desc)


def test_human_monitor_uses_the_same_methods() -> None:
    machine, recorder = make(start_paused=True, ram_size=128 << 20, name="hmp-vm")
    hmp = machine.human_monitor_command
    assert hmp(command_line="info status") == "VM status: paused (prelaunch)\r\n"
    assert hmp(command_line="info balloon") == "balloon: actual=128\r\n"
    assert hmp(command_line="info name") == "hmp-vm\r\n"
    assert hmp(command_line="info version").startswith("7.2.0pyqmp ")
    assert hmp(command_line="cont") == ""
    assert hmp(command_line="info status") == "VM status: running\r\n"
    assert hmp(command_line="stop") == ""
    assert hmp(command_line="info status") == "VM status: paused\r\n"
    assert hmp(command_line="balloon 100") == ""
    assert machine.balloon_device is not None
    assert machine.balloon_device.target_pages == ((128 - 100) << 20) >> 12
    assert hmp(command_line="balloon 0") == "Error: Parameter 'target' expects a size\r\n"
    assert hmp(command_line="frobnicate") == "unknown command: 'frobnicate'\r\n"
    assert [name for name, _ in recorder.events] == ["RESUME", "STOP"]
