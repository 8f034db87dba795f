"""The machine's run state, as one table: (state, trigger) -> next state, events, guest action.

The states are QEMU's (``RunState``: the machine uses ``prelaunch``, ``running``,
``paused`` and ``shutdown``), and so are the transitions between them: QEMU 7.2's
``runstate_transitions_def`` (``softmmu/runstate.c``) is the reference, and
``tests/machine/test_run_state.py`` checks every change of state here against the one in
the fetched source.  Nothing else in the machine decides a run state; :class:`RunStates`
only looks a row up and says what it asks for, with no I/O, so the whole table is tested
with no process, socket or event loop.
"""

from __future__ import annotations

import enum
from typing import Final, NamedTuple

from . import machine_qapi as api

PRELAUNCH: Final[api.RunState] = "prelaunch"
RUNNING: Final[api.RunState] = "running"
PAUSED: Final[api.RunState] = "paused"
SHUTDOWN: Final[api.RunState] = "shutdown"
STATES: Final = (PRELAUNCH, RUNNING, PAUSED, SHUTDOWN)


class Trigger(enum.Enum):
    """What moves the machine: a command, its start, or its guest going away."""

    BOOT = "the machine starts with its guest link"
    STOP = "stop"
    CONT = "cont"
    RESET = "system_reset"
    POWERDOWN = "system_powerdown"
    QUIT = "quit"
    GUEST_SHUTDOWN = "the guest exits cleanly"
    GUEST_PANIC = "the guest dies"


class GuestAction(enum.Enum):
    """What the transition asks of the guest process (nothing, when there is none)."""

    NONE = "nothing"
    START = "start a fresh guest (the current one, if any, is killed first)"
    FREEZE = "freeze it (SIGSTOP)"
    THAW = "thaw it (SIGCONT)"
    KILL = "kill it; no exit is reported"
    POWERDOWN = "press its power button (a hung guest ignores it)"


class Transition(NamedTuple):
    """One row: the next state, the QMP events emitted (in order), the guest action."""

    next_state: api.RunState
    events: tuple[str, ...]
    guest: GuestAction


class Cause(NamedTuple):
    """The data of the ``SHUTDOWN`` or ``RESET`` event a trigger emits."""

    guest: bool
    reason: api.ShutdownCause


#: Why the machine shuts down or resets, per trigger: QEMU's ``ShutdownCause``.
CAUSES: Final = {
    Trigger.QUIT: Cause(guest=False, reason="host-qmp-quit"),
    Trigger.RESET: Cause(guest=False, reason="host-qmp-system-reset"),
    Trigger.GUEST_SHUTDOWN: Cause(guest=True, reason="guest-shutdown"),
    Trigger.GUEST_PANIC: Cause(guest=True, reason="guest-panic"),
}

NOTHING: Final = GuestAction.NONE
START: Final = GuestAction.START
FREEZE: Final = GuestAction.FREEZE
THAW: Final = GuestAction.THAW
KILL: Final = GuestAction.KILL
POWER_BUTTON: Final = GuestAction.POWERDOWN

#: Every (state, trigger) of the machine, and what it does.  The rules, from QEMU 7.2
#: (``softmmu/runstate.c``, ``monitor/qmp-cmds.c``, ``softmmu/cpus.c``) run with
#: ``-no-shutdown``:
#:
#: - Every trigger has a row in every state: a command is always answered, and one that
#:   changes nothing in a state is a row that changes nothing (``stop`` before the guest
#:   runs stays in ``prelaunch``; ``cont`` while running emits no ``RESUME``).
#: - The guest is asked first, then the events go out in the row's order, then the state
#:   changes: a guest that cannot be started leaves the machine as it was.  ``SHUTDOWN``
#:   and ``RESET`` carry the trigger's :data:`CAUSES`.
#: - Only ``running`` has a guest that runs; ``paused`` has it frozen, ``prelaunch`` has
#:   none yet (``-S``, or after a reset), ``shutdown`` has one that is gone.  So ``cont``
#:   thaws in ``paused`` and starts a fresh guest elsewhere.
#: - A reset restarts a running guest in place and leaves any other state in
#:   ``prelaunch``, as QEMU does.  The machine stays up when its guest goes (QEMU's
#:   ``-no-shutdown``): ``SHUTDOWN``, then ``STOP`` if it was running.
#: - Where this table leaves QEMU's (:data:`BEYOND_QEMU`), it says why.
# fmt: off
_ROWS_AS_WRITTEN: Final = (
    # in state  trigger                 leads to   events                guest
    (PRELAUNCH, Trigger.BOOT,           PRELAUNCH, (),                   NOTHING),
    (PRELAUNCH, Trigger.STOP,           PRELAUNCH, (),                   NOTHING),
    (PRELAUNCH, Trigger.CONT,           RUNNING,   ("RESUME",),          START),
    (PRELAUNCH, Trigger.RESET,          PRELAUNCH, ("RESET",),           KILL),
    (PRELAUNCH, Trigger.POWERDOWN,      PRELAUNCH, ("POWERDOWN",),       NOTHING),
    (PRELAUNCH, Trigger.QUIT,           PRELAUNCH, ("SHUTDOWN",),        KILL),
    (PRELAUNCH, Trigger.GUEST_SHUTDOWN, SHUTDOWN,  ("SHUTDOWN",),        NOTHING),
    (PRELAUNCH, Trigger.GUEST_PANIC,    SHUTDOWN,  ("SHUTDOWN",),        NOTHING),

    (RUNNING,   Trigger.BOOT,           RUNNING,   (),                   START),
    (RUNNING,   Trigger.STOP,           PAUSED,    ("STOP",),            FREEZE),
    (RUNNING,   Trigger.CONT,           RUNNING,   (),                   NOTHING),
    (RUNNING,   Trigger.RESET,          RUNNING,   ("RESET",),           START),
    (RUNNING,   Trigger.POWERDOWN,      RUNNING,   ("POWERDOWN",),       POWER_BUTTON),
    (RUNNING,   Trigger.QUIT,           RUNNING,   ("SHUTDOWN",),        KILL),
    (RUNNING,   Trigger.GUEST_SHUTDOWN, SHUTDOWN,  ("SHUTDOWN", "STOP"), NOTHING),
    (RUNNING,   Trigger.GUEST_PANIC,    SHUTDOWN,  ("SHUTDOWN", "STOP"), NOTHING),

    (PAUSED,    Trigger.BOOT,           PAUSED,    (),                   NOTHING),
    (PAUSED,    Trigger.STOP,           PAUSED,    (),                   NOTHING),
    (PAUSED,    Trigger.CONT,           RUNNING,   ("RESUME",),          THAW),
    (PAUSED,    Trigger.RESET,          PRELAUNCH, ("RESET",),           KILL),
    (PAUSED,    Trigger.POWERDOWN,      PAUSED,    ("POWERDOWN",),       POWER_BUTTON),
    (PAUSED,    Trigger.QUIT,           PAUSED,    ("SHUTDOWN",),        KILL),
    (PAUSED,    Trigger.GUEST_SHUTDOWN, SHUTDOWN,  ("SHUTDOWN",),        NOTHING),
    (PAUSED,    Trigger.GUEST_PANIC,    SHUTDOWN,  ("SHUTDOWN",),        NOTHING),

    (SHUTDOWN,  Trigger.BOOT,           SHUTDOWN,  (),                   NOTHING),
    (SHUTDOWN,  Trigger.STOP,           SHUTDOWN,  (),                   NOTHING),
    (SHUTDOWN,  Trigger.CONT,           RUNNING,   ("RESUME",),          START),
    (SHUTDOWN,  Trigger.RESET,          PRELAUNCH, ("RESET",),           KILL),
    (SHUTDOWN,  Trigger.POWERDOWN,      SHUTDOWN,  ("POWERDOWN",),       NOTHING),
    (SHUTDOWN,  Trigger.QUIT,           SHUTDOWN,  ("SHUTDOWN",),        KILL),
    (SHUTDOWN,  Trigger.GUEST_SHUTDOWN, SHUTDOWN,  ("SHUTDOWN",),        NOTHING),
    (SHUTDOWN,  Trigger.GUEST_PANIC,    SHUTDOWN,  ("SHUTDOWN",),        NOTHING),
)
# fmt: on
TRANSITIONS: Final[dict[tuple[api.RunState, Trigger], Transition]] = {
    (state, trigger): Transition(next_state, events, guest)
    for state, trigger, next_state, events, guest in _ROWS_AS_WRITTEN
}

#: The changes of state QEMU 7.2 does not make, and why the machine does.
BEYOND_QEMU: Final = {
    (SHUTDOWN, RUNNING): "cont after the guest went brings up a fresh one; QEMU asks for "
    "system_reset first ('Resetting the Virtual Machine is required')",
    (PAUSED, SHUTDOWN): "a frozen guest process can still be killed from outside the machine",
    (PRELAUNCH, SHUTDOWN): "kept for completeness: no guest runs in prelaunch, so none exits",
}


def step(state: api.RunState, trigger: Trigger) -> Transition:
    """What ``trigger`` does in ``state``: the one place a run state is decided."""
    return TRANSITIONS[(state, trigger)]
