"""The machine's run-state table, against QEMU's, and the machine carrying it out.

No process, socket or event loop: the machine is driven by calling its methods, with a
guest that records what it is asked and an event sink that records what is emitted.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from pyqmp.machine import machine_qapi as api
from pyqmp.machine.machine import Machine, MachineConfig
from pyqmp.machine.run_state import (
    BEYOND_QEMU,
    CAUSES,
    STATES,
    TRANSITIONS,
    GuestAction,
    Trigger,
)


class RecordingGuest:
    """A guest process as the machine drives it, recording every request."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    @property
    def driver_state(self) -> api.BalloonDriverState:
        return "absent"

    @property
    def malformed_frames(self) -> int:
        return 0

    def start(self) -> None:
        self.asked.append("start")

    def kill(self) -> None:
        self.asked.append("kill")

    def freeze(self) -> None:
        self.asked.append("freeze")

    def thaw(self) -> None:
        self.asked.append("thaw")

    def powerdown(self) -> None:
        self.asked.append("powerdown")

    def set_target(self, pages: int) -> None:
        pass  # the balloon's business, not the run state's

    def request_stats(self) -> bool:
        return True

    def set_fault(self, mode: str) -> None:
        pass


ASKED_FOR = {
    GuestAction.NONE: [],
    GuestAction.START: ["start"],
    GuestAction.FREEZE: ["freeze"],
    GuestAction.THAW: ["thaw"],
    GuestAction.KILL: ["kill"],
    GuestAction.POWERDOWN: ["powerdown"],
}


def machine_in(
    state: api.RunState, guest: RecordingGuest | None
) -> tuple[Machine, list[tuple[str, Any]]]:
    emitted: list[tuple[str, Any]] = []
    exits: list[bool] = []
    machine = Machine(
        MachineConfig(start_paused=True, balloon_id="balloon0" if guest else None),
        api.Events(lambda name, data: emitted.append((name, data))),
        lambda: exits.append(True),
    )
    if guest is not None:
        machine.guest = guest  # attached as the app attaches it, without its BOOT row
        assert machine.balloon_device is not None
        machine.balloon_device.guest = guest
    machine.run_state = state
    return machine, emitted


def fire(machine: Machine, trigger: Trigger, guest: RecordingGuest | None) -> None:
    if trigger is Trigger.BOOT:
        machine.attach_guest(guest or RecordingGuest())
    elif trigger is Trigger.STOP:
        machine.stop()
    elif trigger is Trigger.CONT:
        machine.cont()
    elif trigger is Trigger.RESET:
        machine.system_reset()
    elif trigger is Trigger.POWERDOWN:
        machine.system_powerdown()
    elif trigger is Trigger.QUIT:
        machine.quit()
    elif trigger is Trigger.GUEST_SHUTDOWN:
        machine.guest_exited(0)
    else:
        machine.guest_exited(-11)  # died of SIGSEGV


ROWS = list(itertools.product(STATES, Trigger))


def test_every_trigger_has_a_row_in_every_state() -> None:
    assert set(TRANSITIONS) == set(ROWS)


def qemu_transitions(qemu_source: Path) -> set[tuple[str, str]]:
    """QEMU 7.2's ``runstate_transitions_def``, as (from, to) in QAPI's spelling."""
    text = (qemu_source / "softmmu" / "runstate.c").read_text()
    table = text[text.index("runstate_transitions_def[] = {") :]
    table = table[: table.index("};")]
    pairs = re.findall(r"\{\s*RUN_STATE_(\w+)\s*,\s*RUN_STATE_(\w+)\s*\}", table)
    assert len(pairs) > 50, "QEMU's table was not found where it should be"
    return {(old.lower().replace("_", "-"), new.lower().replace("_", "-")) for old, new in pairs}


def test_every_change_of_state_is_qemus_or_says_why_not(qemu_source: Path) -> None:
    allowed = qemu_transitions(qemu_source)
    changes = {
        (state, row.next_state)
        for (state, _), row in TRANSITIONS.items()
        if row.next_state != state
    }
    assert changes - allowed == set(BEYOND_QEMU)
    assert all(reason for reason in BEYOND_QEMU.values())
    # the QEMU transitions the machine makes, for the record
    assert ("prelaunch", "running") in changes & allowed
    assert ("running", "paused") in changes & allowed
    assert ("running", "shutdown") in changes & allowed


def test_events_that_carry_a_cause_have_one() -> None:
    for (_, trigger), row in TRANSITIONS.items():
        if "SHUTDOWN" in row.events or "RESET" in row.events:
            assert trigger in CAUSES, trigger


@pytest.mark.parametrize(
    ("state", "trigger"), ROWS, ids=[f"{state}-{trigger.name}" for state, trigger in ROWS]
)
def test_the_machine_carries_out_each_row(state: api.RunState, trigger: Trigger) -> None:
    guest = RecordingGuest()
    machine, emitted = machine_in(state, guest)
    row = TRANSITIONS[(state, trigger)]
    fire(machine, trigger, guest)
    assert guest.asked == ASKED_FOR[row.guest]
    assert [name for name, _ in emitted] == list(row.events)
    for name, data in emitted:
        if name in ("SHUTDOWN", "RESET"):
            cause = CAUSES[trigger]
            assert data == {"guest": cause.guest, "reason": cause.reason}
    status = machine.query_status()
    assert (status.status, status.running) == (row.next_state, row.next_state == "running")


COMMAND_ROWS = [(state, trigger) for state, trigger in ROWS if trigger is not Trigger.BOOT]


@pytest.mark.parametrize(
    ("state", "trigger"),
    COMMAND_ROWS,
    ids=[f"{state}-{trigger.name}" for state, trigger in COMMAND_ROWS],
)
def test_a_machine_without_a_guest_moves_the_same(state: api.RunState, trigger: Trigger) -> None:
    machine, emitted = machine_in(state, None)
    fire(machine, trigger, None)
    row = TRANSITIONS[(state, trigger)]
    assert [name for name, _ in emitted] == list(row.events)
    assert machine.query_status().status == row.next_state


def test_a_life_from_prelaunch_to_quit() -> None:
    guest = RecordingGuest()
    machine, emitted = machine_in("prelaunch", guest)
    steps = [
        (machine.stop, [], [], "prelaunch"),  # as QEMU: nothing runs yet, nothing stops
        (machine.cont, ["start"], ["RESUME"], "running"),
        (machine.cont, [], [], "running"),  # no RESUME for a running machine
        (machine.stop, ["freeze"], ["STOP"], "paused"),
        (machine.system_powerdown, ["powerdown"], ["POWERDOWN"], "paused"),
        (machine.cont, ["thaw"], ["RESUME"], "running"),
        (machine.system_reset, ["start"], ["RESET"], "running"),
        (lambda: machine.guest_exited(0), [], ["SHUTDOWN", "STOP"], "shutdown"),
        (machine.system_powerdown, [], ["POWERDOWN"], "shutdown"),  # nobody to press it
        (machine.cont, ["start"], ["RESUME"], "running"),  # a fresh guest
        (lambda: machine.guest_exited(-9), [], ["SHUTDOWN", "STOP"], "shutdown"),
        (machine.system_reset, ["kill"], ["RESET"], "prelaunch"),
        (machine.quit, ["kill"], ["SHUTDOWN"], "prelaunch"),
    ]
    for call, asked, events, state in steps:
        guest.asked.clear()
        emitted.clear()
        call()
        assert (guest.asked, [name for name, _ in emitted]) == (asked, events), call
        assert machine.query_status().status == state
