"""The balloon script of the issue, as a driver usable against any QMP target with a running
guest (QEMU 7.2 with a real Linux guest, or `pyqmp machine`), and how its transcripts compare.

`run_balloon_script(socket_path, ram_bytes)` drives one QMP monitor with the real `qemu.qmp`
client (QMPClient), through the steps of the anchor (docs/anchors/real-linux-balloon-guest.md):

  negotiate → query-balloon (actual = RAM) → qom-set guest-stats-polling-interval 2 → ~3 s →
  qom-get guest-stats (real values, last-update in host time) → balloon RAM/2 → BALLOON_CHANGE
  events until actual = RAM/2 → query-balloon → `info balloon` → guest-stats again (after a
  fresh update: stat-total-memory shrank) → balloon RAM → BALLOON_CHANGE events until actual =
  RAM → query-balloon → quit.

It returns a transcript of plain JSON data (`Transcript`, keys below).  Every wait is bounded.
A command answered with an error, or an event sequence that never reaches its target, is
recorded, not raised, so that transcripts can always be checked and compared; only a target that
cannot be reached or stops answering raises BalloonScriptError.

Event times: each event carries the client's receipt time (`received`, seconds after the
`balloon` command was sent, stamped when qemu.qmp's reader hands the event over) and the
server's `timestamp`.  QEMU stamps an event when it is raised, not when its throttle lets it
out, so the throttle (one BALLOON_CHANGE per second) shows in the receipt gaps, while
timestamp gaps of a delayed event can be shorter.

`check_balloon_transcript(t)` says where one transcript departs from what the anchor measured on
QEMU; `compare_balloon_transcripts(a, b)` says where two transcripts disagree in the ways the
issue asks them to agree.  Both return a list of human-readable problems (empty: fine).

Run by hand:  python tests/interop/balloon_script.py SOCKET RAM_BYTES
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from qemu.qmp import EventListener, ExecInterruptedError, ExecuteError, QMPClient
from qmp_compare import shape_of

Transcript = dict[str, Any]
JSON = Any

BALLOON_ID = "balloon0"
BALLOON_PATH = f"/machine/peripheral/{BALLOON_ID}"
POLLING_INTERVAL = 2  # seconds, as in the anchor
STATS_SETTLE_SECONDS = 3.0  # the anchor reads guest-stats 3 s after setting the interval
STATS_WAIT_SECONDS = 10.0  # more time, if the first stats have not come yet
EVENTS_WAIT_SECONDS = 15.0  # balloon → actual reaches the target
COMMAND_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 10.0
QUIT_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.25

NO_VALUE = 2**64 - 1  # what QEMU reports for a stat the guest never sent
REAL_STATS = ("stat-total-memory", "stat-free-memory", "stat-available-memory")
MIN_EVENT_GAP_SECONDS = 0.9  # QEMU lets out one BALLOON_CHANGE per second
HOST_TIME_SLACK_SECONDS = 2 * POLLING_INTERVAL + 3


class BalloonScriptError(Exception):
    """The target could not be reached, or stopped answering; `transcript` holds what was
    recorded until then."""

    def __init__(self, message: str, transcript: Transcript):
        super().__init__(message)
        self.transcript = transcript


class _StampingListener(EventListener):
    """An EventListener that notes when each event was received (monotonic and wall time)."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[float, float, dict[str, JSON]]] = []

    async def put(self, event: Any) -> None:
        self.received.append((time.monotonic(), time.time(), dict(event)))
        await super().put(event)


def _plain(value: Any) -> JSON:
    """qemu.qmp hands back Messages and plain containers; make it all plain JSON."""
    return json.loads(json.dumps(value, default=dict))


class _Driver:
    def __init__(self, socket_path: str, ram_bytes: int):
        self.socket_path = socket_path
        self.ram_bytes = ram_bytes
        self.client = QMPClient("pyqmp-balloon-script")
        self.listener = _StampingListener()
        self.client.register_listener(self.listener)
        self.started = time.monotonic()
        self.t: Transcript = {
            "ram_bytes": ram_bytes,
            "target_bytes": ram_bytes // 2,
            "greeting_shape": None,
            "steps": [],
            "stats_first": None,
            "stats_half": None,
            "down": None,
            "up": None,
            "info_balloon": None,
            "final_actual": None,
            "quit": None,
            "other_events": [],
        }

    def fail(self, message: str) -> BalloonScriptError:
        return BalloonScriptError(message, self.t)

    async def execute(
        self, name: str, command: str, arguments: Mapping[str, JSON] | None = None
    ) -> JSON:
        """Run a command; record it as step `name`; return its `return` (None on error)."""
        sent_at = time.monotonic()
        step: dict[str, JSON] = {
            "name": name,
            "command": command,
            "arguments": _plain(arguments) if arguments else None,
            "at": round(sent_at - self.started, 3),
        }
        try:
            value = await asyncio.wait_for(
                self.client.execute(command, arguments), COMMAND_TIMEOUT_SECONDS
            )
        except ExecuteError as error:
            step["error"] = _plain(dict(error.received).get("error"))
            step["host_time"] = time.time()
            self.t["steps"].append(step)
            return None
        except TimeoutError as error:
            step["timed_out"] = True
            self.t["steps"].append(step)
            raise self.fail(f"{command}: no reply in {COMMAND_TIMEOUT_SECONDS:.0f} s") from error
        except (ExecInterruptedError, OSError, EOFError) as error:
            step["closed"] = repr(error)
            self.t["steps"].append(step)
            raise self.fail(f"{command}: connection lost: {error!r}") from error
        step["host_time"] = time.time()
        step["return"] = _plain(value)
        step["seconds"] = round(time.monotonic() - sent_at, 4)
        self.t["steps"].append(step)
        return step["return"]

    # -- steps --------------------------------------------------------------------------------

    async def guest_stats(self, name: str) -> JSON:
        return await self.execute(
            name, "qom-get", {"path": BALLOON_PATH, "property": "guest-stats"}
        )

    def reached_time(self, phase: str) -> float:
        """Host time at which `actual` reached the phase's target: the timestamp of the event
        reporting it (QEMU stamps an event when raised), else when that event was received."""
        target = self.t[phase]["target"]
        for _, wall, event in self.listener.received[self.t[phase]["mark"] :]:
            if (
                event.get("event") == "BALLOON_CHANGE"
                and event.get("data", {}).get("actual") == target
            ):
                stamp = event.get("timestamp")
                if isinstance(stamp, dict) and isinstance(stamp.get("seconds"), int):
                    return float(stamp["seconds"]) + stamp.get("microseconds", 0) / 1e6
                return wall
        return time.time()

    async def wait_stats(self, name: str, deadline: float, newer_than: float) -> dict[str, JSON]:
        """Poll guest-stats until `last-update` > newer_than (bounded); the last reading."""
        polls = 0
        while True:
            stats = await self.guest_stats(name)
            polls += 1
            last = stats.get("last-update") if isinstance(stats, dict) else None
            if isinstance(last, int) and last > newer_than:
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
        return _stats_record(stats, self.t["steps"][-1]["host_time"], polls)

    async def balloon_to(self, phase: str, value: int) -> None:
        """`balloon value`, then BALLOON_CHANGE events until actual = value (bounded)."""
        mark = len(self.listener.received)
        sent_at = time.monotonic()
        await self.execute(f"balloon {phase}", "balloon", {"value": value})
        deadline = sent_at + EVENTS_WAIT_SECONDS
        reached_at: float | None = None
        while reached_at is None and time.monotonic() < deadline:
            for received_at, _, event in self.listener.received[mark:]:
                if (
                    event.get("event") == "BALLOON_CHANGE"
                    and event.get("data", {}).get("actual") == value
                ):
                    reached_at = received_at
                    break
            else:
                await asyncio.sleep(0.02)
        self.t[phase] = {
            "target": value,
            "sent_at": sent_at,
            "mark": mark,
            "reached": reached_at is not None,
            "reached_after": (None if reached_at is None else round(reached_at - sent_at, 3)),
        }

    def close_phase(self, phase: str, end: int) -> None:
        """Record the events received from the phase's `balloon` command up to index `end`."""
        record = self.t[phase]
        sent_at = record.pop("sent_at")
        mark = record.pop("mark")
        events = []
        for received_at, _, event in self.listener.received[mark:end]:
            if event.get("event") != "BALLOON_CHANGE":
                continue
            stamp = event.get("timestamp", {})
            events.append(
                {
                    "actual": event.get("data", {}).get("actual"),
                    "received": round(received_at - sent_at, 3),
                    "timestamp": (
                        stamp.get("seconds", 0) + stamp.get("microseconds", 0) / 1e6
                        if isinstance(stamp, dict)
                        else None
                    ),
                    "shape": shape_of(event),
                }
            )
        record["events"] = events
        record["received_gaps"] = [
            round(b["received"] - a["received"], 3) for a, b in itertools.pairwise(events)
        ]
        record["timestamp_gaps"] = [
            round(b["timestamp"] - a["timestamp"], 3)
            for a, b in itertools.pairwise(events)
            if a["timestamp"] is not None and b["timestamp"] is not None
        ]

    async def quit(self) -> None:
        mark = len(self.listener.received)
        record: dict[str, JSON] = {"reply": None, "closed": None}
        try:
            record["reply"] = _plain(
                await asyncio.wait_for(self.client.execute("quit"), QUIT_TIMEOUT_SECONDS)
            )
        except ExecInterruptedError as error:
            record["reply"] = f"<interrupted: {error}>"
        except (TimeoutError, OSError, EOFError) as error:
            record["reply"] = f"<{error!r}>"
        try:
            await asyncio.wait_for(self.client.disconnect(), QUIT_TIMEOUT_SECONDS)
            record["closed"] = "eof"
        except (EOFError, ConnectionResetError) as error:
            # QEMU closes right after its reply; on a unix socket that may be ECONNRESET.
            record["closed"] = "eof" if isinstance(error, EOFError) else "reset"
        except Exception as error:  # record whatever the close looked like
            record["closed"] = f"<{error!r}>"
        record["events"] = [
            {"event": event.get("event"), "data": event.get("data")}
            for _, _, event in self.listener.received[mark:]
        ]
        self.t["quit"] = record

    async def run(self) -> Transcript:
        try:
            await asyncio.wait_for(self.client.connect(self.socket_path), CONNECT_TIMEOUT_SECONDS)
        except Exception as error:
            raise self.fail(
                f"cannot connect and negotiate on {self.socket_path}: {error!r}"
            ) from error
        greeting = self.client.greeting
        self.t["greeting_shape"] = (
            shape_of(_plain(greeting._asdict())) if greeting is not None else None
        )
        try:
            await self.execute("query-balloon first", "query-balloon")
            await self.execute(
                "set polling interval",
                "qom-set",
                {
                    "path": BALLOON_PATH,
                    "property": "guest-stats-polling-interval",
                    "value": POLLING_INTERVAL,
                },
            )
            await self.execute(
                "get polling interval",
                "qom-get",
                {"path": BALLOON_PATH, "property": "guest-stats-polling-interval"},
            )
            await asyncio.sleep(STATS_SETTLE_SECONDS)
            self.t["stats_first"] = await self.wait_stats(
                "guest-stats first", time.monotonic() + STATS_WAIT_SECONDS, 0
            )

            half = self.ram_bytes // 2
            await self.balloon_to("down", half)
            await self.execute("query-balloon half", "query-balloon")
            await self.execute(
                "info balloon half", "human-monitor-command", {"command-line": "info balloon"}
            )
            self.t["info_balloon"] = self.t["steps"][-1].get("return")
            # Stats the guest sent after the balloon reached its target: last-update later
            # than the server's timestamp of the event that reported the target.
            self.t["stats_half"] = await self.wait_stats(
                "guest-stats half",
                time.monotonic() + 2 * POLLING_INTERVAL + 15,
                self.reached_time("down"),
            )
            self.close_phase("down", len(self.listener.received))

            await self.balloon_to("up", self.ram_bytes)
            final = await self.execute("query-balloon final", "query-balloon")
            self.t["final_actual"] = final.get("actual") if isinstance(final, dict) else None
            self.close_phase("up", len(self.listener.received))
        finally:
            self.t["balloon_changes"] = [
                {
                    "actual": event.get("data", {}).get("actual"),
                    "at": round(received_at - self.started, 3),
                }
                for received_at, _, event in self.listener.received
                if event.get("event") == "BALLOON_CHANGE"
            ]
            self.t["balloon_change_gaps"] = [
                round(b["at"] - a["at"], 3)
                for a, b in itertools.pairwise(self.t["balloon_changes"])
            ]
            self.t["other_events"] = [
                {"event": event.get("event"), "at": round(received_at - self.started, 3)}
                for received_at, _, event in self.listener.received
                if event.get("event") != "BALLOON_CHANGE"
            ]
        await self.quit()
        self.t["elapsed"] = round(time.monotonic() - self.started, 2)
        return self.t

    async def abandon(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.disconnect(), QUIT_TIMEOUT_SECONDS)


def _stats_record(stats: JSON, host_time: float, polls: int) -> dict[str, JSON]:
    if not isinstance(stats, dict):
        return {"reply": stats, "host_time": host_time, "polls": polls}
    values = stats.get("stats") if isinstance(stats.get("stats"), dict) else {}
    last = stats.get("last-update")
    return {
        "reply": stats,
        "keys": sorted(values),
        "last_update": last,
        "host_time": int(host_time),
        "last_update_age": (round(host_time - last, 1) if isinstance(last, int) else None),
        "last_update_is_host_time": (
            isinstance(last, int)
            and last > 1_000_000_000
            and -1 <= host_time - last <= HOST_TIME_SLACK_SECONDS
        ),
        "real": {
            key: isinstance(values.get(key), int) and values.get(key) != NO_VALUE
            for key in REAL_STATS
        },
        "polls": polls,
    }


async def _run(socket_path: str, ram_bytes: int) -> Transcript:
    driver = _Driver(socket_path, ram_bytes)
    try:
        return await driver.run()
    except BaseException:
        await driver.abandon()
        raise


def run_balloon_script(socket_path: str, ram_bytes: int) -> Transcript:
    """Play the balloon script on the QMP monitor at `socket_path` of a machine with
    `ram_bytes` of RAM and a running guest; the transcript (see the module docstring)."""
    return asyncio.run(_run(socket_path, ram_bytes))


# ---------------------------------------------------------------------------------------------
# Checking one transcript, comparing two


def step(transcript: Transcript, name: str) -> dict[str, JSON]:
    for record in transcript["steps"]:
        if record["name"] == name:
            return record
    return {"name": name, "missing": True}


def _sequence_problems(phase: dict[str, JSON] | None, start: int) -> list[str]:
    """The throttled event sequence of a phase: ends exactly at the target, one event per
    second at most, values moving monotonically from `start` towards the target."""
    if phase is None:
        return ["not run"]
    target = phase["target"]
    values = [event["actual"] for event in phase.get("events", [])]
    problems = []
    if not values:
        return [f"no BALLOON_CHANGE event (target {target})"]
    if not phase["reached"] or values[-1] != target:
        problems.append(f"does not end at the target {target}: {values}")
    direction = 1 if target > start else -1
    previous = start
    for value in values:
        if (
            not isinstance(value, int)
            or (value - previous) * direction <= 0
            or (value - target) * direction > 0
        ):
            problems.append(f"values do not move monotonically from {start} to {target}: {values}")
            break
        previous = value
    short = [gap for gap in phase.get("received_gaps", []) if gap < MIN_EVENT_GAP_SECONDS]
    if short:
        problems.append(
            f"events closer than {MIN_EVENT_GAP_SECONDS} s (not throttled): "
            f"gaps {phase['received_gaps']}"
        )
    return problems


def _throttle_problems(t: Transcript) -> list[str]:
    """All BALLOON_CHANGE events of the session, across phases, at most one per second (the
    throttle is per event, so an event of the second `balloon` within a second of the first
    one's last event is held back too)."""
    gaps = t.get("balloon_change_gaps")
    if gaps is None:
        return ["no record of the session's BALLOON_CHANGE events"]
    if any(gap < MIN_EVENT_GAP_SECONDS for gap in gaps):
        return [
            f"BALLOON_CHANGE events closer than {MIN_EVENT_GAP_SECONDS} s (not throttled): "
            f"{t['balloon_changes']}"
        ]
    return []


def _info_balloon_format(text: JSON) -> JSON:
    return re.sub(r"\d+", "N", text) if isinstance(text, str) else text


def _stats_problems(record: dict[str, JSON] | None) -> list[str]:
    if record is None:
        return ["not read"]
    problems = []
    if not record.get("last_update_is_host_time"):
        problems.append(
            f"last-update {record.get('last_update')} is not a recent host time "
            f"(host {record.get('host_time')})"
        )
    unreal = [key for key, real in record.get("real", {}).items() if not real]
    if unreal or "real" not in record:
        problems.append(f"no real values for {unreal or list(REAL_STATS)}: {record.get('reply')}")
    return problems


def check_balloon_transcript(t: Transcript) -> list[str]:
    """Where a transcript departs from what the anchor measured on QEMU 7.2 + a Linux guest."""
    ram, half = t["ram_bytes"], t["target_bytes"]
    problems = []

    def expect(name: str, wanted: JSON) -> None:
        record = step(t, name)
        if record.get("return") != wanted:
            problems.append(
                f"{name}: expected {wanted!r}, got "
                f"{record.get('return', record.get('error', record))!r}"
            )

    expect("query-balloon first", {"actual": ram})
    expect("set polling interval", {})
    expect("get polling interval", POLLING_INTERVAL)
    problems += [f"guest-stats first: {p}" for p in _stats_problems(t["stats_first"])]
    expect("balloon down", {})
    problems += [f"BALLOON_CHANGE down: {p}" for p in _sequence_problems(t["down"], ram)]
    expect("query-balloon half", {"actual": half})
    expect("info balloon half", f"balloon: actual={half >> 20}\r\n")
    problems += [f"guest-stats half: {p}" for p in _stats_problems(t["stats_half"])]
    first, at_half = t["stats_first"] or {}, t["stats_half"] or {}
    total = [
        (record.get("reply") or {}).get("stats", {}).get("stat-total-memory")
        for record in (first, at_half)
    ]
    if not (
        isinstance(total[0], int)
        and isinstance(total[1], int)
        and total[1] < total[0] <= ram
        and total[0] - total[1] >= (ram - half) // 2
    ):
        problems.append(f"stat-total-memory did not shrink with the balloon: {total}")
    expect("balloon up", {})
    problems += [f"BALLOON_CHANGE up: {p}" for p in _sequence_problems(t["up"], half)]
    problems += _throttle_problems(t)
    expect("query-balloon final", {"actual": ram})
    quit_record = t["quit"] or {}
    if quit_record.get("reply") not in ({}, None) and not str(quit_record.get("reply")).startswith(
        "<interrupted"
    ):
        problems.append(f"quit: {quit_record.get('reply')!r}")
    shutdown = [event for event in quit_record.get("events", []) if event["event"] == "SHUTDOWN"]
    if shutdown != [{"event": "SHUTDOWN", "data": {"guest": False, "reason": "host-qmp-quit"}}]:
        problems.append(
            f"quit: expected one SHUTDOWN host-qmp-quit, got {quit_record.get('events')}"
        )
    if quit_record.get("closed") not in ("eof", "reset"):
        problems.append(f"quit: the connection did not close: {quit_record.get('closed')}")
    return problems


def _shapes(t: Transcript) -> dict[str, JSON]:
    shapes: dict[str, JSON] = {"greeting": t["greeting_shape"]}
    for record in t["steps"]:
        if "error" in record:
            shapes[record["name"]] = {
                "error": record["error"].get("class")
                if isinstance(record["error"], dict)
                else record["error"]
            }
        else:
            shapes[record["name"]] = shape_of(record.get("return"))
    for phase in ("down", "up"):
        events = (t[phase] or {}).get("events", [])
        shapes[f"BALLOON_CHANGE {phase}"] = sorted({json.dumps(e["shape"]) for e in events})
    return shapes


def compare_balloon_transcripts(a: Transcript, b: Transcript) -> list[str]:
    """Where two targets' transcripts disagree in the ways the issue asks them to agree: reply
    and event shapes, the stat key set, `last-update` a recent host epoch second on both, the
    throttled BALLOON_CHANGE sequences ending at their targets, the final `actual`, and the
    `info balloon` text format.  Values that depend on the guest (free memory, the
    intermediate `actual`s, how many events) are not compared."""
    problems: list[str] = []

    def differ(what: str, x: JSON, y: JSON) -> None:
        if x != y:
            problems.append(f"{what}:\n  first  {json.dumps(x)}\n  second {json.dumps(y)}")

    shapes_a, shapes_b = _shapes(a), _shapes(b)
    for name in list(shapes_a) + [name for name in shapes_b if name not in shapes_a]:
        differ(f"shape of {name}", shapes_a.get(name, "<missing>"), shapes_b.get(name, "<missing>"))

    for label in ("stats_first", "stats_half"):
        ra, rb = a[label] or {}, b[label] or {}
        differ(f"{label}: stat keys", ra.get("keys"), rb.get("keys"))
        differ(
            f"{label}: last-update is a recent host epoch second",
            ra.get("last_update_is_host_time"),
            rb.get("last_update_is_host_time"),
        )
        differ(f"{label}: stats with real values", ra.get("real"), rb.get("real"))
        for which, record in (("first", ra), ("second", rb)):
            if not record.get("last_update_is_host_time"):
                problems.append(
                    f"{label}: last-update of the {which} transcript is not a recent "
                    f"host time: {record.get('last_update')} vs host "
                    f"{record.get('host_time')}"
                )

    for phase, start_key in (("down", "ram_bytes"), ("up", "target_bytes")):
        seq_a = _sequence_problems(a[phase], a[start_key])
        seq_b = _sequence_problems(b[phase], b[start_key])
        problems += [f"BALLOON_CHANGE {phase}, first transcript: {p}" for p in seq_a]
        problems += [f"BALLOON_CHANGE {phase}, second transcript: {p}" for p in seq_b]
        differ(f"BALLOON_CHANGE {phase}: target and last value", _ends(a[phase]), _ends(b[phase]))
    problems += [f"first transcript: {p}" for p in _throttle_problems(a)]
    problems += [f"second transcript: {p}" for p in _throttle_problems(b)]

    if a["ram_bytes"] == b["ram_bytes"]:
        differ("final actual", a["final_actual"], b["final_actual"])
        differ("info balloon at half", a["info_balloon"], b["info_balloon"])
        if a["final_actual"] != a["ram_bytes"]:
            problems.append(
                f"final actual {a['final_actual']} is not the RAM size {a['ram_bytes']}"
            )
    else:
        differ(
            "final actual = RAM",
            a["final_actual"] == a["ram_bytes"],
            b["final_actual"] == b["ram_bytes"],
        )
    differ(
        "info balloon format",
        _info_balloon_format(a["info_balloon"]),
        _info_balloon_format(b["info_balloon"]),
    )

    qa, qb = a["quit"] or {}, b["quit"] or {}
    differ("quit: events", qa.get("events"), qb.get("events"))
    differ(
        "quit: connection closed",
        qa.get("closed") in ("eof", "reset"),
        qb.get("closed") in ("eof", "reset"),
    )
    return problems


def _ends(phase: dict[str, JSON] | None) -> JSON:
    if not phase:
        return None
    events = phase.get("events") or [{}]
    return {"target": phase["target"], "last": events[-1].get("actual")}


def summary(t: Transcript) -> str:
    """A few lines for a test log: the event sequences with their timing, the stats."""
    lines = []
    for phase in ("down", "up"):
        record = t.get(phase) or {}
        events = ", ".join(f"{e['actual']}@{e['received']:.3f}s" for e in record.get("events", []))
        lines.append(
            f"{phase}: [{events}] receipt gaps {record.get('received_gaps')} "
            f"timestamp gaps {record.get('timestamp_gaps')}"
        )
    lines.append(f"all BALLOON_CHANGE receipt gaps: {t.get('balloon_change_gaps')}")
    for label in ("stats_first", "stats_half"):
        record = t.get(label) or {}
        lines.append(
            f"{label}: {json.dumps(record.get('reply'))} "
            f"(age {record.get('last_update_age')} s, {record.get('polls')} polls)"
        )
    lines.append(
        f"info balloon: {t.get('info_balloon')!r}; final actual "
        f"{t.get('final_actual')}; quit {t.get('quit')}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: balloon_script.py SOCKET RAM_BYTES", file=sys.stderr)
        sys.exit(2)
    result = run_balloon_script(sys.argv[1], int(sys.argv[2]))
    print(json.dumps(result, indent=2))
    print(summary(result), file=sys.stderr)
    for problem in check_balloon_transcript(result):
        print(f"problem: {problem}", file=sys.stderr)
