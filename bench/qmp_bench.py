"""Benchmark: QMP round trips against real QEMU and `pyqmp machine`, side by side in one run.

    python bench/qmp_bench.py [--target qemu|pyqmp|both|floor|LIST] [--seconds 3] [--rounds 3]
                              [--client-mode processes|threads] [--only NAMES] [--json]

Each target is started once, paused (-S) with 8 QMP monitors on unix sockets in a private
directory, and both stay up for the whole run.  The workloads, each bounded in count and time:

  sequential    query-status, one at a time on one connection: rate, p50, p99
  pipelined     batches of N query-status with ids written at once, N replies read
  schema        query-qmp-schema one at a time (~200 KB replies): rate
  concurrent    8 connections (8 monitors) doing sequential query-status: aggregate rate
  connect       connect + greeting + qmp_capabilities + query-status + close, per second

With several targets the runs interleave — every round runs each workload on each target in turn,
alternating the order — so that drift in machine load hits all alike; the reported value is the
median over rounds and `X/qemu` columns give the ratio (> 1: faster than QEMU for rates, lower
latency for latencies).  `floor` is a trivial C line server (qmp_floor_server.c, built with the
system C compiler) that shows what the client and the socket alone can do.  The client is in
qmp_bench_client.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qmp_bench_client import (
    BenchmarkError,
    Measurement,
    concurrent,
    connect_cycles,
    pipelined,
    schema,
    sequential,
)

DEFAULT_QEMU_BINARY = "qemu-system-x86_64"
MONITORS = 8
STARTUP_TIMEOUT_SECONDS = 30.0
EXIT_TIMEOUT_SECONDS = 10.0
FLOOR_SOURCE = Path(__file__).resolve().parent / "qmp_floor_server.c"
_SO_ACCEPTCON = 0x10000


# ---------------------------------------------------------------------------------------------
# Targets


@dataclass
class TargetSpec:
    name: str
    argv: Callable[[list[str]], list[str]]
    echoes_ids: bool = True
    has_schema: bool = True


def qemu_spec(binary: str, compat: Sequence[str] = ()) -> TargetSpec:
    def argv(sockets: list[str]) -> list[str]:
        command = [binary, "-M", "q35", "-accel", "tcg", "-S", "-nodefaults", "-display", "none"]
        for policy in compat:
            command += ["-compat", policy]
        for path in sockets:
            command += ["-qmp", f"unix:{path},server=on,wait=off"]
        return command
    return TargetSpec("qemu", argv)


def pyqmp_spec(python: str, compat: Sequence[str] = ()) -> TargetSpec:
    def argv(sockets: list[str]) -> list[str]:
        command = [python, "-m", "pyqmp", "machine", "-S"]
        for policy in compat:
            command += ["--compat", policy]
        for path in sockets:
            command += ["--qmp", f"unix:{path}"]
        return command
    return TargetSpec("pyqmp", argv)


def floor_spec(build_directory: str) -> TargetSpec:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise BenchmarkError("the floor target needs a C compiler (cc)")
    binary = os.path.join(build_directory, "qmp_floor_server")
    subprocess.run([compiler, "-O2", "-pthread", "-o", binary, str(FLOOR_SOURCE)], check=True,
                   timeout=120)
    return TargetSpec("floor", lambda sockets: [binary, *sockets], echoes_ids=False,
                      has_schema=False)


def _listening(paths: list[str]) -> bool:
    try:
        text = Path("/proc/net/unix").read_text()
    except OSError:
        return all(os.path.exists(path) for path in paths)
    listening = set()
    for line in text.splitlines()[1:]:
        fields = line.split(None, 7)
        if len(fields) == 8 and int(fields[3], 16) & _SO_ACCEPTCON:
            listening.add(fields[7])
    return all(path in listening for path in paths)


@dataclass
class RunningTarget:
    spec: TargetSpec
    sockets: list[str]
    process: subprocess.Popen[bytes]
    startup_seconds: float
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def started(spec: TargetSpec, directory: str) -> Iterator[RunningTarget]:
    """Start a target with MONITORS sockets; kill it by PID on the way out."""
    os.makedirs(directory)
    sockets = [os.path.join(directory, f"qmp{index}.sock") for index in range(MONITORS)]
    stderr = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    begin = time.monotonic()
    process = subprocess.Popen(spec.argv(sockets), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        while not _listening(sockets):
            if process.poll() is not None or time.monotonic() - begin > STARTUP_TIMEOUT_SECONDS:
                stderr.seek(0)
                raise BenchmarkError(f"{spec.name} did not start (status {process.poll()}): "
                                     f"{stderr.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.005)
        yield RunningTarget(spec, sockets, process, time.monotonic() - begin)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(EXIT_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(EXIT_TIMEOUT_SECONDS)
        stderr.close()


# ---------------------------------------------------------------------------------------------
# Workloads as the runner sees them


@dataclass
class Options:
    seconds: float
    rounds: int
    batch: int
    client_mode: str
    max_count: int
    schema_max_count: int
    connect_max_count: int


WORKLOADS = ("sequential", "pipelined", "schema", "concurrent", "connect")
# Latencies are reported for these; the rest report a rate only.
HAS_LATENCY = ("sequential", "schema", "concurrent", "connect")


class Unsupported(Exception):
    """The target has no such feature (the floor server has no schema): skipped, not failed."""


def client_cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the worker processes)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_workload(name: str, target: RunningTarget, options: Options) -> dict[str, Any]:
    """The workload's summary, with the client's CPU time per operation: a client that used
    most of the wall time per operation would be measuring itself."""
    cpu_before = client_cpu_seconds()
    measurement = run_workload(name, target, options)
    summary = measurement.summary()
    if measurement.count:
        summary["client_cpu_us_per_op"] = ((client_cpu_seconds() - cpu_before) * 1e6
                                           / measurement.count)
    return summary


def run_workload(name: str, target: RunningTarget, options: Options) -> Measurement:
    first = target.sockets[0]
    if name == "sequential":
        return sequential(first, options.seconds, options.max_count, warmup=200)
    if name == "pipelined":
        return pipelined(first, options.seconds, options.max_count, options.batch,
                         check_ids=target.spec.echoes_ids)
    if name == "schema":
        if not target.spec.has_schema:
            raise Unsupported(f"{target.spec.name} has no query-qmp-schema")
        return schema(first, options.seconds, options.schema_max_count, warmup=2)
    if name == "concurrent":
        return concurrent(target.sockets, options.seconds, options.max_count, warmup=100,
                          mode=options.client_mode)
    if name == "connect":
        return connect_cycles(first, options.seconds, options.connect_max_count, warmup=20)
    raise ValueError(name)


def run_all(targets: list[RunningTarget], workloads: list[str], options: Options,
            progress: Callable[[str], None]) -> None:
    for round_index in range(options.rounds):
        for workload in workloads:
            order = targets if round_index % 2 == 0 else targets[::-1]
            for target in order:
                if workload in target.errors:
                    continue
                try:
                    summary = measure_workload(workload, target, options)
                except Unsupported:
                    continue
                except (BenchmarkError, OSError) as error:
                    target.errors[workload] = f"{type(error).__name__}: {error}"
                    progress(f"{target.spec.name} {workload}: FAILED {target.errors[workload]}")
                    continue
                target.results.setdefault(workload, []).append(summary)
                progress(f"round {round_index + 1}/{options.rounds} {target.spec.name:6} "
                         f"{workload:11} {summary['rate']:10,.0f}/s")
                if target.process.poll() is not None:
                    raise BenchmarkError(f"{target.spec.name} exited during {workload}")


def median_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    summary = dict(rounds[len(rounds) // 2])    # carries the non-numeric extras
    for key in ("rate", "p50_us", "p99_us", "mb_per_s", "client_cpu_us_per_op"):
        if key in rounds[0]:
            summary[key] = statistics.median(entry[key] for entry in rounds)
    summary["rounds"] = [round(entry["rate"], 1) for entry in rounds]
    return summary


# ---------------------------------------------------------------------------------------------
# Reporting


def report(targets: list[RunningTarget], workloads: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {"targets": {}, "ratios": {}}
    for target in targets:
        data["targets"][target.spec.name] = {
            "argv": target.spec.argv(["SOCKET"] * 1),
            "startup_seconds": round(target.startup_seconds, 4),
            "results": {name: median_summary(rounds) for name, rounds in target.results.items()},
            "errors": target.errors,
        }
    base = data["targets"].get("qemu")
    if base is not None:
        for name, entry in data["targets"].items():
            if name == "qemu":
                continue
            ratios: dict[str, Any] = {}
            for workload in workloads:
                mine, theirs = entry["results"].get(workload), base["results"].get(workload)
                if mine is None or theirs is None:
                    continue
                ratios[workload] = {"rate": mine["rate"] / theirs["rate"]}
                for key in ("p50_us", "p99_us"):
                    if key in mine and key in theirs and mine[key] > 0:
                        # latency ratio as a speed-up: > 1 means lower latency than QEMU
                        ratios[workload][key] = theirs[key] / mine[key]
            data["ratios"][f"{name}/qemu"] = ratios
    return data


def format_table(data: dict[str, Any], workloads: list[str]) -> str:
    names = list(data["targets"])
    header = f"{'workload':12}" + "".join(f"{name:>34}" for name in names) + "".join(
        f"{key:>14}" for key in data["ratios"])
    lines = [header, "-" * len(header)]
    for workload in workloads:
        cells = []
        for name in names:
            entry = data["targets"][name]
            result = entry["results"].get(workload)
            if result is None:
                cells.append(f"{'failed' if workload in entry['errors'] else '-':>34}")
                continue
            text = f"{result['rate']:,.0f}/s"
            if workload in HAS_LATENCY and "p50_us" in result:
                text += f" p50 {_us(result['p50_us'])} p99 {_us(result['p99_us'])}"
            cells.append(f"{text:>34}")
        for ratios in data["ratios"].values():
            ratio = ratios.get(workload)
            cells.append(f"{ratio['rate']:>13.2f}x" if ratio else f"{'-':>14}")
        lines.append(f"{workload:12}" + "".join(cells))
    for name in names:
        entry = data["targets"][name]
        results = entry["results"]
        notes = [f"started in {entry['startup_seconds'] * 1000:.0f} ms"]
        if "schema" in results:
            notes.append(f"schema reply {results['schema']['reply_bytes']:,} B, "
                         f"{results['schema']['entries']} entries")
        if "concurrent" in results:
            notes.append(f"{results['concurrent']['connections']} connections "
                         f"({results['concurrent']['client_mode']}), per connection "
                         f"{results['concurrent']['per_connection_rate']}/s")
        cpu = [f"{workload} {result['client_cpu_us_per_op']:.1f}"
               for workload, result in results.items() if "client_cpu_us_per_op" in result]
        if cpu:
            notes.append("client CPU us/op: " + ", ".join(cpu))
        lines.append(f"{name}: " + "; ".join(notes))
        lines.extend(f"{name}: {workload} FAILED: {error}"
                     for workload, error in entry["errors"].items())
    return "\n".join(lines)


def _us(value: float) -> str:
    return f"{value:,.0f}us" if value >= 100 else f"{value:.1f}us"


# ---------------------------------------------------------------------------------------------


def parse_targets(text: str) -> list[str]:
    names: list[str] = []
    for part in text.split(","):
        for name in ("qemu", "pyqmp") if part == "both" else (part,):
            if name not in ("qemu", "pyqmp", "floor"):
                raise argparse.ArgumentTypeError(f"unknown target {name!r}")
            if name not in names:
                names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", type=parse_targets, default=["qemu"],
                        help="qemu, pyqmp, both (= qemu,pyqmp), floor, or a comma list")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="time bound of each measurement (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds; the median is reported (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=1000,
                        help="requests per pipelined batch (default: %(default)s)")
    parser.add_argument("--max-count", type=int, default=200_000,
                        help="count bound of the query-status workloads (default: %(default)s)")
    parser.add_argument("--client-mode", choices=("processes", "threads"), default="processes",
                        help="one process or one thread per connection in `concurrent` "
                             "(default: %(default)s; see bench/README.md)")
    parser.add_argument("--only", type=lambda text: text.split(","), default=list(WORKLOADS),
                        help=f"workloads to run, comma separated (of {','.join(WORKLOADS)})")
    parser.add_argument("--qemu", default=DEFAULT_QEMU_BINARY, help="QEMU binary")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that runs `-m pyqmp machine`")
    parser.add_argument("--compat", action="append", default=[], metavar="POLICY",
                        help="run QEMU and pyqmp under this -compat policy (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    options = parser.parse_args(argv)
    unknown = [name for name in options.only if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")

    bounds = Options(seconds=options.seconds, rounds=options.rounds, batch=options.batch,
                     client_mode=options.client_mode, max_count=options.max_count,
                     schema_max_count=2_000, connect_max_count=50_000)

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="pyqmp-bench-") as directory, \
            contextlib.ExitStack() as stack:
        specs = {"qemu": lambda: qemu_spec(options.qemu, options.compat),
                 "pyqmp": lambda: pyqmp_spec(options.python, options.compat),
                 "floor": lambda: floor_spec(directory)}
        try:
            targets = [stack.enter_context(started(specs[name](), os.path.join(directory, name)))
                       for name in options.target]
            run_all(targets, options.only, bounds, progress)
        except BenchmarkError as error:
            print(f"qmp_bench: {error}", file=sys.stderr)
            return 1
        data = report(targets, options.only)
    data["config"] = {"seconds": options.seconds, "rounds": options.rounds,
                      "batch": options.batch, "max_count": options.max_count,
                      "client_mode": options.client_mode, "monitors": MONITORS,
                      "compat": options.compat,
                      "cpus": os.cpu_count()}
    if options.json:
        print(json.dumps(data, indent=2))
    else:
        print(format_table(data, options.only))
    return 1 if any(entry["errors"] for entry in data["targets"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
