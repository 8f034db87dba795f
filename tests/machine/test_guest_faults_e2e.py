"""A misbehaving guest cannot hurt the host: the acceptance test of the guest fault modes.

For each fault mode, `pyqmp machine -m 256M` runs with four unix monitors and stats polling
every second, and its guest (a real process) misbehaves — from the start (`--guest-fault`) or
from a point at run time (`x-guest-fault`).  Then 2,000 mixed queries, spread over the four
monitors (one thread per monitor, each sequential), must all answer with a `return`, the
whole run within a bound: no query waits on the guest.  Each mode then shows what the host
made of it (malformed frames counted, lies dropped, a flood read at a bounded rate, a crash
reported and recovered from, a hang and a slow answer visible as an outstanding request),
the machine's peak RSS stays bounded, and when the machine is killed its guest exits too.

Then what the host keeps of what a misbehaving guest said: no statistic older than the
last-update it is shown with (a guest that turns to lying), no valid report lost to the
host's read budget (a scripted guest that bursts), and no guest left behind by a machine
killed while its guest was frozen.

The bounds are generous (seconds where a healthy answer takes microseconds): they tell a
query that never waits from one that waits on the guest, not fast from slow.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from machine_process import BALLOON, MachineProcess, Monitor, process_state

RAM = 256 << 20
UNSET_STAT = 2**64 - 1  # QEMU's guest-stats value for a statistic the guest never reported
MEMORY_STATS = (
    "stat-free-memory",
    "stat-total-memory",
    "stat-available-memory",
    "stat-disk-caches",
)
QUERIES = 2000
QUERY_RUN_BOUND = 30.0  # seconds for all QUERIES
QUERY_BOUND = 5.0  # seconds for any one of them
RSS_BOUND = 300 << 20
READY_TIMEOUT = 15.0
CPU_WINDOW = 3.0
CPU_BOUND = 0.6  # of one core, over CPU_WINDOW
SLOW_EARLIEST = 2.5  # a slow guest's stats come later than this after a refresh
SLOW_LATEST = 10.0

Requests = tuple[tuple[str, dict[str, Any] | None], ...]
MIXED_QUERIES: Requests = (
    ("query-balloon", None),
    ("query-balloon-stats", None),
    ("qom-get", {"path": BALLOON, "property": "guest-stats"}),
    ("query-status", None),
)
# What asks the guest for something: it must return at once too, and never pile up.
GUEST_REQUESTS: Requests = (
    ("balloon", {"value": 96 << 20}),
    ("balloon-stats-refresh", None),
    ("balloon", {"value": 160 << 20}),
    ("balloon-stats-refresh", None),
)


@dataclass
class QueryRun:
    """What the mixed queries got: (command, seconds, reply) per query, per monitor."""

    seconds: float
    answers: list[list[tuple[str, float, dict[str, Any]]]]
    failures: list[str] = field(default_factory=list)

    def replies(self, command: str) -> list[Any]:
        return [
            reply["return"]
            for answers in self.answers
            for name, _, reply in answers
            if name == command
        ]


def run_mixed_queries(
    machine: MachineProcess, count: int = QUERIES, mix: Requests = MIXED_QUERIES
) -> QueryRun:
    """``count`` requests from ``mix``, round-robin over the monitors, each monitor
    sequential in a thread of its own."""
    monitors = machine.monitors
    answers: list[list[tuple[str, float, dict[str, Any]]]] = [[] for _ in monitors]
    failures: list[str] = []

    def work(index: int) -> None:
        monitor = monitors[index]
        try:
            for position in range(len(range(index, count, len(monitors)))):
                command, arguments = mix[(position + index) % len(mix)]
                before = time.monotonic()
                reply = monitor.execute(command, arguments)
                answers[index].append((command, time.monotonic() - before, reply))
        except Exception as error:  # reported by the test, with the monitor's number
            failures.append(f"monitor {index}: {error!r}")

    threads = [
        threading.Thread(target=work, args=(index,), daemon=True) for index in range(len(monitors))
    ]
    begin = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, begin + QUERY_RUN_BOUND - time.monotonic()))
    run = QueryRun(time.monotonic() - begin, answers, failures)
    stuck = [index for index, thread in enumerate(threads) if thread.is_alive()]
    assert not stuck, f"monitors {stuck} still waiting after {QUERY_RUN_BOUND} s"
    return run


def assert_all_answered(run: QueryRun, count: int = QUERIES) -> None:
    assert not run.failures, run.failures
    answered = [entry for answers in run.answers for entry in answers]
    assert len(answered) == count
    errors = [(name, reply) for name, _, reply in answered if "return" not in reply]
    assert not errors, errors[:5]
    slowest = max(seconds for _, seconds, _ in answered)
    assert slowest < QUERY_BOUND, f"a query took {slowest:.2f} s"
    assert run.seconds < QUERY_RUN_BOUND


def balloon_stats(monitor: Monitor) -> dict[str, Any]:
    stats = monitor.value("query-balloon-stats")
    assert isinstance(stats, dict)
    return stats


def wait_for(condition: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``condition()`` until it returns something true, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def wait_driver(monitor: Monitor, state: str, timeout: float = READY_TIMEOUT) -> None:
    wait_for(lambda: balloon_stats(monitor)["driver"] == state, timeout, f"driver {state}")


def wait_malformed_growth(monitor: Monitor, since: int, timeout: float = 10.0) -> int:
    def grown() -> int:
        count = int(balloon_stats(monitor)["malformed-frames"])
        return count if count > since else 0

    return int(wait_for(grown, timeout, f"malformed-frames above {since}"))


@contextmanager
def faulty_machine(mode: str, at_start: bool) -> Iterator[MachineProcess]:
    """A machine whose guest is in ``mode``, set at start or at run time once it is ready.

    On the way out: the peak RSS is checked, the machine is killed, and its guests must exit.
    """
    options = ["-m", "256M"]
    if at_start:
        options += ["--guest-fault", mode]
    with checked_machine(*options) as machine:
        first = machine.monitors[0]
        set_polling(first, 1)
        if not at_start:
            wait_driver(first, "ready")
            first.value("x-guest-fault", {"mode": mode})
        yield machine


@contextmanager
def checked_machine(*options: str) -> Iterator[MachineProcess]:
    """A machine with 4 monitors and a started guest; its peak RSS is checked at the end,
    then it is killed, and every guest it had must exit."""
    machine = MachineProcess(*options, monitors=4)
    try:
        machine.wait_guest()
        yield machine
        assert machine.peak_rss() < RSS_BOUND, f"machine peak RSS {machine.peak_rss() >> 20} MiB"
    finally:
        machine.close()
    assert not machine.surviving_guests, (
        f"guest processes {machine.surviving_guests} outlived their killed machine"
    )


def set_polling(monitor: Monitor, seconds: int) -> None:
    monitor.value(
        "qom-set", {"path": BALLOON, "property": "guest-stats-polling-interval", "value": seconds}
    )


# -- each fault mode: 2,000 queries answered, and what the host made of the fault -----------


def test_hang_at_start() -> None:
    with faulty_machine("hang", at_start=True) as machine:
        first = machine.monitors[0]
        assert_all_answered(run_mixed_queries(machine))
        # a storm of requests to a guest that reads nothing: each returns at once
        assert_all_answered(run_mixed_queries(machine, 1000, GUEST_REQUESTS), 1000)
        before = time.monotonic()
        first.value("balloon", {"value": 128 << 20})
        assert time.monotonic() - before < 1.0, "balloon waited on a hung guest"
        first.value("balloon-stats-refresh")
        stats = balloon_stats(first)
        assert stats["request-outstanding"] is True
        assert isinstance(stats.get("request-since"), int)
        assert stats["request-since"] <= time.time() + 1
        assert stats["driver"] == "absent"  # it hung before its driver said a word
        assert stats["target"] == 128 << 20
        assert first.value("query-balloon")["actual"] == RAM  # nobody moved the balloon
        guest = machine.guest_pids()[0]
        assert process_state(guest) in ("S", "R")  # hung, not dead


def test_garbage_at_start() -> None:
    with faulty_machine("garbage", at_start=True) as machine:
        first = machine.monitors[0]
        before = balloon_stats(first)["malformed-frames"]
        run = run_mixed_queries(machine)
        assert_all_answered(run)
        wait_malformed_growth(first, before)
        for answers in run.answers:
            counts = [
                reply["return"]["malformed-frames"]
                for name, _, reply in answers
                if name == "query-balloon-stats"
            ]
            assert counts == sorted(counts), "malformed-frames went down"
        assert balloon_stats(first)["driver"] == "absent"  # garbage is not a driver


def test_lie_at_start() -> None:
    with faulty_machine("lie", at_start=True) as machine:
        first = machine.monitors[0]
        before = balloon_stats(first)["malformed-frames"]
        first.value("balloon", {"value": 128 << 20})  # every step reports an absurd level
        run = run_mixed_queries(machine)
        assert_all_answered(run)
        after = wait_malformed_growth(first, before)
        assert after > before
        actuals = [reply["actual"] for reply in run.replies("query-balloon")]
        actuals += [reply["actual"] for reply in run.replies("query-balloon-stats")]
        assert actuals and max(actuals) <= RAM and min(actuals) > 0
        for reply in run.replies("qom-get"):
            for name in MEMORY_STATS:
                value = reply["stats"][name]
                assert value == UNSET_STAT or value <= RAM, (name, value)
        for reply in run.replies("query-balloon-stats"):
            for name in MEMORY_STATS:
                assert reply["stats"].get(name, 0) <= RAM, (name, reply["stats"])
        # the lies were heard (the driver answers), only the impossible values dropped
        assert balloon_stats(first)["driver"] == "ready"


def test_flood_at_run_time() -> None:
    with faulty_machine("flood", at_start=False) as machine:
        flood_began = time.monotonic()
        assert_all_answered(run_mixed_queries(machine))
        cpu_before = machine.cpu_seconds()
        window_began = time.monotonic()
        readers = [
            threading.Thread(target=monitor.collect_events, args=(CPU_WINDOW,), daemon=True)
            for monitor in machine.monitors
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(CPU_WINDOW + 5.0)
        cpu_share = (machine.cpu_seconds() - cpu_before) / (time.monotonic() - window_began)
        assert cpu_share < CPU_BOUND, f"the machine used {cpu_share:.0%} of a core"
        span = time.monotonic() - flood_began
        for index, monitor in enumerate(machine.monitors):
            updates = [
                at for at in monitor.event_times("BALLOON_STATS_UPDATE") if at >= flood_began
            ]
            assert updates, f"monitor {index}: no BALLOON_STATS_UPDATE during the flood"
            assert len(updates) <= span + 2, (
                f"monitor {index}: {len(updates)} BALLOON_STATS_UPDATE in {span:.1f} s"
            )
        assert balloon_stats(machine.monitors[0])["driver"] == "ready"


def test_crash_at_run_time() -> None:
    with faulty_machine("crash", at_start=False) as machine:
        first = machine.monitors[0]
        crashed = list(machine.guests_seen)
        for monitor in machine.monitors:
            shutdown = monitor.wait_event("SHUTDOWN", 10.0)
            assert shutdown["data"] == {"guest": True, "reason": "guest-panic"}, shutdown
        run = run_mixed_queries(machine)
        assert_all_answered(run)
        assert {reply["status"] for reply in run.replies("query-status")} == {"shutdown"}
        assert balloon_stats(first)["driver"] == "gone"
        wait_for(lambda: not machine.guest_pids(), 5.0, "the crashed guest is reaped")

        # 'cont' brings up a fresh guest (once the machine is told to stop crashing it)
        first.value("x-guest-fault", {"mode": "none"})
        first.value("cont")
        wait_driver(first, "ready")
        assert first.value("query-status")["status"] == "running"
        fresh = machine.guest_pids()
        assert crashed and fresh and set(fresh).isdisjoint(crashed)

        # and so does system_reset + cont after a second crash
        first.events.clear()
        first.value("x-guest-fault", {"mode": "crash"})
        first.wait_event("SHUTDOWN", 10.0)
        first.value("x-guest-fault", {"mode": "none"})
        first.value("system_reset")
        first.value("cont")
        wait_driver(first, "ready")
        assert first.value("query-status")["status"] == "running"
        assert set(machine.guest_pids()).isdisjoint(fresh)


def test_slow_at_run_time() -> None:
    with faulty_machine("slow", at_start=False) as machine:
        first = machine.monitors[0]
        assert_all_answered(run_mixed_queries(machine))
        # Stop polling and let the answers already on their way arrive, then ask once.
        set_polling(first, 0)
        wait_for(
            lambda: not balloon_stats(first)["request-outstanding"],
            SLOW_LATEST,
            "the answers already on their way",
        )
        last_update = balloon_stats(first).get("last-update", 0)
        first.value("balloon-stats-refresh")
        asked = time.monotonic()
        stats = balloon_stats(first)
        assert stats["request-outstanding"] is True
        arrived = wait_for(
            lambda: balloon_stats(first).get("last-update", 0) > last_update and time.monotonic(),
            SLOW_LATEST,
            "the slow guest's stats",
        )
        assert arrived - asked > SLOW_EARLIEST, f"stats came {arrived - asked:.2f} s after"
        assert balloon_stats(first)["request-outstanding"] is False


# -- what the host keeps of what a misbehaving guest said -------------------------------------


def test_lie_at_run_time_leaves_no_stale_stats() -> None:
    """A guest that reported honest stats and then lies: the lies are dropped, and what is
    shown with the new last-update must be what the guest reported then.  QEMU resets every
    statistic before taking a new report (virtio_balloon_receive_stats: reset_stats, "to
    get rid of any stale values"), so one the guest did not validly report is unset."""
    with checked_machine("-m", "256M") as machine:
        first = machine.monitors[0]
        set_polling(first, 1)
        honest = wait_for(
            lambda: balloon_stats(first).get("last-update") and balloon_stats(first),
            READY_TIMEOUT,
            "honest stats",
        )
        assert all(name in honest["stats"] for name in MEMORY_STATS), honest
        malformed = honest["malformed-frames"]
        first.value("x-guest-fault", {"mode": "lie"})
        first.value("balloon-stats-refresh")
        wait_for(
            lambda: balloon_stats(first)["malformed-frames"] >= malformed + 4,
            10.0,
            "a lying stats report (4 impossible memory values dropped)",
        )
        after = balloon_stats(first)
        guest_stats = first.value("qom-get", {"path": BALLOON, "property": "guest-stats"})
        assert after["last-update"] >= honest["last-update"]
        stale = {name: after["stats"][name] for name in MEMORY_STATS if name in after["stats"]}
        assert not stale, (
            f"query-balloon-stats shows {stale} with last-update {after['last-update']}, but "
            f"the guest's report then had no valid memory stats: these are left over from an "
            f"earlier report (an honest one came at {honest['last-update']})"
        )
        assert all(guest_stats["stats"][name] == UNSET_STAT for name in MEMORY_STATS), guest_stats


SCRIPTED_BURST = 250  # stats frames sent at once, ahead of the balloon report
SCRIPTED_BALLOON_PAGES = 1024
SCRIPTED_GUEST = """#!{python}
# A guest that sends, in one write: READY, a burst of valid stats frames, then one valid
# ACTUAL report; then it reads and ignores what the host sends until the host goes.
import os, select, socket, sys, time
from pyqmp import channel
args = sys.argv[1:]
sock = socket.socket(fileno=int(args[args.index("--fd") + 1]))
pages = int(args[args.index("--ram") + 1]) // channel.PAGE_SIZE
stats = channel.encode_stats([(tag, 1 << 20) for tag in channel.StatTag])
sock.sendall(channel.encode_ready(pages) + stats * {burst} + channel.encode_actual({balloon}))
parent = os.getppid()
deadline = time.monotonic() + 120
while time.monotonic() < deadline and os.getppid() == parent:
    readable, _, _ = select.select([sock], [], [], 0.2)
    if readable and not sock.recv(4096):
        break
"""


def test_burst_of_stats_does_not_lose_the_balloon_level(tmp_path: Path) -> None:
    """The host reads a guest at a bounded rate (frames per second); frames over the budget
    must wait, not vanish.  A valid ACTUAL report that follows a burst of stats is the
    guest's balloon level: lost, query-balloon shows a wrong 'actual' until the guest next
    reports one, which a guest at its target never does (with the real flood mode this
    happens to about one balloon change in three)."""
    program = tmp_path / "scripted_guest"
    program.write_text(
        SCRIPTED_GUEST.format(
            python=sys.executable, burst=SCRIPTED_BURST, balloon=SCRIPTED_BALLOON_PAGES
        )
    )
    program.chmod(0o755)
    with MachineProcess("-m", "256M", monitors=1, guest_program=str(program)) as machine:
        first = machine.monitors[0]
        wait_driver(first, "ready")
        expected = RAM - SCRIPTED_BALLOON_PAGES * 4096
        try:
            wait_for(
                lambda: first.value("query-balloon")["actual"] == expected,
                5.0,
                "the balloon level reported after the burst",
            )
        except AssertionError:
            stats = balloon_stats(first)
            raise AssertionError(
                f"query-balloon actual stays {stats['actual']}, the guest reported {expected} "
                f"(after {SCRIPTED_BURST} stats frames in one write); malformed-frames "
                f"{stats['malformed-frames']}"
            ) from None
    assert not machine.surviving_guests


# -- the guest goes with its machine ---------------------------------------------------------


@pytest.mark.parametrize("state", ["running", "paused"])
def test_guest_exits_when_machine_is_killed(state: str) -> None:
    """SIGKILL leaves the machine no chance to clean up: the guest must notice by itself,
    even a guest the machine froze with 'stop'."""
    with MachineProcess("-m", "64M", monitors=1) as machine:
        guest = machine.wait_guest()
        wait_driver(machine.monitors[0], "ready")
        if state == "paused":
            machine.monitors[0].value("stop")
            wait_for(lambda: process_state(guest) == "T", 5.0, "the guest is stopped")
    assert not machine.surviving_guests, (
        f"guest {machine.surviving_guests} outlived its killed machine (guest was {state})"
    )
