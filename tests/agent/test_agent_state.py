"""The agent's cache of a VM keeps only checked, bounded facts."""

from __future__ import annotations

from pyqmp.agent.state import GONE, MAX_EVENT_NAMES, MAX_STATS, OTHER_EVENTS, U64_MAX, VMState


def test_values_from_a_server_are_checked() -> None:
    state = VMState("vm", "unix:/x", "watch")
    state.set_status({"status": "running", "running": True})
    assert (state.status, state.running) == ("running", True)
    state.set_status({"status": "Not A Status" * 10, "running": 1})
    assert (state.status, state.running) == ("running", True)  # kept: the lies are dropped
    state.set_status(["not", "a", "mapping"])
    state.set_balloon(-1, 2**64)
    assert (state.balloon_actual, state.balloon_target) == (None, None)
    state.set_balloon(True, 1.5)
    assert (state.balloon_actual, state.balloon_target) == (None, None)
    state.set_balloon(4096, U64_MAX)
    assert (state.balloon_actual, state.balloon_target) == (4096, U64_MAX)
    stats = {f"stat-x{index}": index for index in range(100)}
    stats.update({"stat-free-memory": U64_MAX, "bogus": 1, "stat-total-memory": "x"})
    state.set_stats(stats, 0)
    assert len(state.stats) == MAX_STATS and "stat-free-memory" not in state.stats
    assert state.stats_last_update is None  # QEMU's 0: never
    state.set_stats({"stat-free-memory": 7}, 1_700_000_000)
    assert (state.stats, state.stats_last_update) == ({"stat-free-memory": 7}, 1_700_000_000)


def test_event_names_are_bounded() -> None:
    state = VMState("vm", "unix:/x", "watch")
    for index in range(500):
        state.count_event(f"E{index}")
    state.count_event("bad name")
    assert len(state.events) == MAX_EVENT_NAMES + 1
    assert state.events[OTHER_EVENTS] == 500 - MAX_EVENT_NAMES + 1


def test_events_update_the_cache_at_once() -> None:
    state = VMState("vm", "unix:/x", "watch")
    state.set_status({"status": "running", "running": True})
    assert state.apply_event("STOP", {}) is True
    assert (state.status, state.running) == ("paused", False)
    assert state.apply_event("RESUME", {}) is True
    assert state.apply_event("BALLOON_CHANGE", {"actual": 1 << 20}) is False
    assert state.balloon_actual == 1 << 20
    state.apply_event(
        "BALLOON_STATS_UPDATE", {"stats": {"stat-free-memory": 5}, "last-update": 123}
    )
    assert state.stats == {"stat-free-memory": 5} and state.stats_last_update == 123
    state.not_up(GONE, "refused")
    assert (state.status, state.balloon_actual, state.stats) == (None, None, {})
