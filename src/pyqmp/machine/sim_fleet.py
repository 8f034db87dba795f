"""A simulated fleet: many reference machines in one process, for tests and benchmarks.

``pyqmp sim-fleet DIR --count N`` serves N machines, each with its own QMP monitor on
``DIR/PREFIXi.qmp`` (the layout of ``/var/run/qemu-server`` that ``pyqmp agent --watch``
follows), all in one event loop, sharing one copy of the schema and introspection, each
with a :class:`~.sim_guest.SimulatedGuest` instead of a guest process: about a hundred
kilobytes per machine instead of a process and its RAM.  Every monitor is a real pyqmp
machine monitor: the same commands, events, throttling and backpressure.  To freeze part
of a fleet the way a SIGSTOPped QEMU is frozen, run that part as a second sim-fleet and
SIGSTOP it.

Events for a load test are made on request: with ``--events N --rate R``, SIGUSR1 makes
the fleet run N ``stop``/``cont`` calls, round robin over its machines at R a second (each
call is one STOP or RESUME event on that machine's monitors), then print how many it made.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import NamedTuple

from .app import RunningMachine
from .guest_link import GuestEvents
from .machine import MachineConfig
from .options import MonitorAddress
from .sim_guest import SimulatedGuest

TICK = 0.01  # the event generator's step, in seconds


class FleetConfig(NamedTuple):
    directory: str
    machines: int
    prefix: str = "vm-"
    ram_size: int = 128 << 20
    start_paused: bool = False
    events: int = 0
    rate: float = 1000.0


async def open_fleet(config: FleetConfig) -> list[RunningMachine]:
    """Start the fleet's machines, each listening on its socket, each with its guest."""
    loop = asyncio.get_running_loop()
    machines: list[RunningMachine] = []
    try:
        for index in range(config.machines):
            name = f"{config.prefix}{index}"
            running = RunningMachine(
                MachineConfig(ram_size=config.ram_size, start_paused=config.start_paused, name=name)
            )
            path = os.path.join(config.directory, f"{name}.qmp")
            await running.listen([MonitorAddress("unix", path=path)], announce=False)
            machines.append(running)
            machine = running.machine
            guest = SimulatedGuest(
                loop,
                config.ram_size,
                GuestEvents(
                    machine.guest_actual,
                    machine.guest_stats,
                    machine.guest_exited,
                ),
            )
            machine.attach_guest(guest)
    except BaseException:
        close_fleet(machines)
        raise
    return machines


def close_fleet(machines: list[RunningMachine]) -> None:
    for running in machines:
        if running.server is not None:
            running.server.close_now()


async def make_events(machines: list[RunningMachine], count: int, rate: float) -> int:
    """``count`` stop/cont calls over the machines, at ``rate`` a second; how many ran."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    made = 0
    while made < count:
        due = min(count, int((loop.time() - start) * rate) + 1)
        while made < due:
            machine = machines[made % len(machines)].machine
            if machine.query_status().running:
                machine.stop()
            else:
                machine.cont()
            made += 1
        await asyncio.sleep(TICK)
    return made


async def serve(config: FleetConfig, announce: Callable[[str], None] = print) -> None:
    """Run the fleet until SIGINT or SIGTERM (see the module's description)."""
    machines = await open_fleet(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    start_events = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, start_events.set)
    announce(f"pyqmp sim-fleet: {len(machines)} machines in {config.directory}")
    generator = None
    if config.events and machines:
        generator = asyncio.create_task(_events_on_signal(machines, config, start_events, announce))
    try:
        await stop.wait()
    finally:
        if generator is not None:
            generator.cancel()
        close_fleet(machines)


async def _events_on_signal(
    machines: list[RunningMachine],
    config: FleetConfig,
    start: asyncio.Event,
    announce: Callable[[str], None],
) -> None:
    await start.wait()
    loop = asyncio.get_running_loop()
    began = loop.time()
    made = await make_events(machines, config.events, config.rate)
    announce(f"pyqmp sim-fleet: made {made} events in {loop.time() - began:.3f} s")
