"""Benchmark: query latency of `pyqmp machine` with a healthy guest and with a misbehaving one.

    python bench/guest_faults_bench.py [--modes healthy,hang,garbage,flood] [--rounds 9]
                                       [--queries 1000] [--warmup 200] [--ram 256M] [--json]

The issue's claim is that nothing a guest does can slow the host's answers: a query never
waits on the guest, and a guest that hangs, sends garbage or floods its channel costs the
machine little.  Each mode gets its own machine (`-m RAM`, `--guest-fault MODE` unless
healthy, 4 unix monitors, guest-stats polling every second), all started at once and up for
the whole run.  In every round, each machine in turn (the order alternating between rounds)
gets one client process per monitor, each sending `--queries` mixed queries one at a time —
query-balloon, query-balloon-stats, qom-get guest-stats, query-status, in rotation — after
`--warmup` unmeasured ones.  Reported per mode: p50 and p99 (the median of the rounds' values)
and p99(mode)/p99(healthy); the issue's target is a ratio within 1.5.  Also per mode: the
machine's CPU time over the run and what query-balloon-stats says of the guest at the end
(so that a fault that did not take shows).  The client is qmp_bench_client.LineClient.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qmp_bench_client import BenchmarkError, LineClient, connected, percentile

MODES = ("healthy", "hang", "garbage", "flood", "lie", "slow", "crash")
DEFAULT_MODES = ("healthy", "hang", "garbage", "flood")
MONITORS = 4
STARTUP_TIMEOUT_SECONDS = 30.0
EXIT_TIMEOUT_SECONDS = 10.0
WORKER_TIMEOUT_SECONDS = 120.0
TARGET_RATIO = 1.5
BALLOON = "/machine/peripheral/balloon0"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

MIXED_QUERIES = (
    b'{"execute":"query-balloon"}\n',
    b'{"execute":"query-balloon-stats"}\n',
    b'{"execute":"qom-get","arguments":{"path":"%s","property":"guest-stats"}}\n'
    % BALLOON.encode(),
    b'{"execute":"query-status"}\n',
)


# ---------------------------------------------------------------------------------------------
# Machines


@dataclass
class RunningMachine:
    mode: str
    sockets: list[str]
    process: subprocess.Popen[bytes]
    cpu_at_start: float = 0.0
    rounds: list[dict[str, Any]] = field(default_factory=list)
    end_state: dict[str, Any] = field(default_factory=dict)

    def cpu_seconds(self) -> float:
        text = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = text[text.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _connectable(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


@contextlib.contextmanager
def started(mode: str, ram: str, directory: str, python: str) -> Iterator[RunningMachine]:
    """`pyqmp machine` for one mode; terminated by its PID on the way out (the machine kills
    its guest as it exits)."""
    os.makedirs(directory)
    sockets = [os.path.join(directory, f"qmp{index}.sock") for index in range(MONITORS)]
    argv = [python, "-m", "pyqmp", "machine", "-m", ram]
    if mode != "healthy":
        argv += ["--guest-fault", mode]
    for path in sockets:
        argv += ["--qmp", f"unix:{path}"]
    output = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not all(os.path.exists(path) and _connectable(path) for path in sockets):
            if process.poll() is not None or time.monotonic() > deadline:
                output.seek(0)
                raise BenchmarkError(f"machine ({mode}) did not start: "
                                     f"{output.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.02)
        yield RunningMachine(mode, sockets, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(EXIT_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(EXIT_TIMEOUT_SECONDS)
        output.close()


def call(client: LineClient, request: dict[str, Any]) -> Any:
    reply = json.loads(client.call(json.dumps(request).encode() + b"\n"))
    return reply["return"]


def prepare(machine: RunningMachine) -> None:
    """Stats polling every second, as a management application would set it."""
    client = connected(machine.sockets[0])
    try:
        call(client, {"execute": "qom-set", "arguments": {
            "path": BALLOON, "property": "guest-stats-polling-interval", "value": 1}})
    finally:
        client.close()
    machine.cpu_at_start = machine.cpu_seconds()


def guest_state(machine: RunningMachine) -> dict[str, Any]:
    client = connected(machine.sockets[0])
    try:
        stats = call(client, {"execute": "query-balloon-stats"})
        status = call(client, {"execute": "query-status"})
    finally:
        client.close()
    return {"driver": stats["driver"], "malformed_frames": stats["malformed-frames"],
            "request_outstanding": stats["request-outstanding"],
            "last_update_age_s": (round(time.time() - stats["last-update"])
                                  if "last-update" in stats else None),
            "status": status["status"]}


# ---------------------------------------------------------------------------------------------
# Clients: one process per monitor, each sequential


def _worker(path: str, offset: int, queries: int, warmup: int, start: Any, queue: Any) -> None:
    try:
        client = connected(path)
        try:
            requests = [MIXED_QUERIES[(offset + index) % len(MIXED_QUERIES)]
                        for index in range(warmup + queries)]
            roundtrip = client.roundtrip
            for request in requests[:warmup]:
                roundtrip(request)
            start.wait(WORKER_TIMEOUT_SECONDS)
            clock = time.perf_counter_ns
            latencies = []
            for request in requests[warmup:]:
                before = clock()
                roundtrip(request)
                latencies.append(clock() - before)
            queue.put(("ok", latencies))
        finally:
            client.close()
    except BaseException as error:
        queue.put(("error", repr(error)))
        with contextlib.suppress(Exception):
            start.abort()


def measure(machine: RunningMachine, queries: int, warmup: int) -> dict[str, Any]:
    """One round against one machine: every monitor's client at once."""
    context = multiprocessing.get_context("fork")
    start = context.Barrier(MONITORS)
    queue = context.SimpleQueue()
    workers = [context.Process(target=_worker, daemon=True,
                               args=(path, index, queries, warmup, start, queue))
               for index, path in enumerate(machine.sockets)]
    began = time.monotonic()
    for worker in workers:
        worker.start()
    results: list[Any] = []
    deadline = began + WORKER_TIMEOUT_SECONDS
    while len(results) < MONITORS and time.monotonic() < deadline:
        if queue.empty():
            time.sleep(0.005)
            continue
        results.append(queue.get())
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            worker.kill()  # by PID: our own child
            worker.join(EXIT_TIMEOUT_SECONDS)
    errors = [result[1] for result in results if result[0] == "error"]
    if errors or len(results) != MONITORS:
        raise BenchmarkError(f"{machine.mode}: {len(results)} of {MONITORS} clients reported; "
                             f"errors: {errors}")
    latencies = sorted(latency for result in results for latency in result[1])
    return {"count": len(latencies), "wall_s": time.monotonic() - began,
            "p50_us": percentile(latencies, 0.50) / 1000,
            "p99_us": percentile(latencies, 0.99) / 1000,
            "max_us": latencies[-1] / 1000}


# ---------------------------------------------------------------------------------------------
# Report


def summarize(machines: list[RunningMachine], options: argparse.Namespace) -> dict[str, Any]:
    baseline = next((m for m in machines if m.mode == "healthy"), None)
    base_p99 = statistics.median(r["p99_us"] for r in baseline.rounds) if baseline else None
    modes: dict[str, Any] = {}
    for machine in machines:
        p50 = statistics.median(r["p50_us"] for r in machine.rounds)
        p99 = statistics.median(r["p99_us"] for r in machine.rounds)
        modes[machine.mode] = {
            "p50_us": round(p50, 1),
            "p99_us": round(p99, 1),
            "max_us": round(max(r["max_us"] for r in machine.rounds), 1),
            "p99_ratio_to_healthy": round(p99 / base_p99, 3) if base_p99 else None,
            "within_target": (p99 / base_p99 <= TARGET_RATIO) if base_p99 else None,
            "queries_per_round": machine.rounds[0]["count"],
            "machine_cpu_s": round(machine.end_state.pop("cpu_s"), 2),
            "guest": machine.end_state,
            "rounds": [{key: round(value, 3 if key == "wall_s" else 1)
                        for key, value in r.items()} for r in machine.rounds],
        }
    return {"monitors": MONITORS, "rounds": options.rounds, "queries_per_client": options.queries,
            "ram": options.ram, "target_ratio": TARGET_RATIO, "modes": modes}


def format_table(data: dict[str, Any]) -> str:
    lines = [f"{data['monitors']} monitors x {data['queries_per_client']} mixed queries, "
             f"{data['rounds']} rounds (median of rounds); target p99 ratio <= "
             f"{data['target_ratio']}",
             f"{'mode':<9}{'p50 us':>9}{'p99 us':>9}{'max us':>10}{'p99/healthy':>13}"
             f"{'cpu s':>8}  guest at the end"]
    for mode, row in data["modes"].items():
        ratio = row["p99_ratio_to_healthy"]
        guest = row["guest"]
        lines.append(
            f"{mode:<9}{row['p50_us']:>9.1f}{row['p99_us']:>9.1f}{row['max_us']:>10.1f}"
            f"{'' if ratio is None else f'{ratio:.2f}x':>13}{row['machine_cpu_s']:>8.2f}  "
            f"driver {guest['driver']}, malformed {guest['malformed_frames']}, "
            f"stats age {guest['last_update_age_s']} s, {guest['status']}")
    return "\n".join(lines)


def parse_modes(text: str) -> list[str]:
    modes = [name.strip() for name in text.split(",") if name.strip()]
    for name in modes:
        if name not in MODES:
            raise argparse.ArgumentTypeError(f"unknown mode {name!r} (known: {', '.join(MODES)})")
    if "healthy" not in modes:
        modes.insert(0, "healthy")  # the baseline of every ratio
    return modes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", type=parse_modes, default=list(DEFAULT_MODES),
                        help="guest modes, comma-separated (healthy is always included)")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--queries", type=int, default=1000,
                        help="measured queries per client per round (default 1000)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="unmeasured queries per client per round (default 200)")
    parser.add_argument("--ram", default="256M", help="guest RAM (default 256M)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds between start and the first round (default 2)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the machines")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    options = parser.parse_args(argv)

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="pyqmp-guest-faults-") as root, \
            contextlib.ExitStack() as stack:
        machines = [stack.enter_context(started(mode, options.ram, os.path.join(root, mode),
                                                options.python))
                    for mode in options.modes]
        for machine in machines:
            prepare(machine)
        time.sleep(options.settle)  # let the faults take hold (and the healthy guest boot)
        for round_index in range(options.rounds):
            order = machines if round_index % 2 == 0 else machines[::-1]
            for machine in order:
                machine.rounds.append(measure(machine, options.queries, options.warmup))
            progress(f"round {round_index + 1}/{options.rounds}: " + ", ".join(
                f"{m.mode} p99 {m.rounds[-1]['p99_us']:.0f} us" for m in machines))
        for machine in machines:
            machine.end_state = guest_state(machine)
            machine.end_state["cpu_s"] = machine.cpu_seconds() - machine.cpu_at_start
        data = summarize(machines, options)
    print(json.dumps(data, indent=2) if options.json else format_table(data))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as error:
        print(f"guest_faults_bench: {error}", file=sys.stderr)
        sys.exit(1)
