"""Benchmark: `pyqmp schema check` against QEMU's own QAPI front end, side by side in one run.

Each side is a whole process, timed by wall clock from spawn to reap, so interpreter start-up
and imports count as a user would feel them.  The sides alternate (A, B, A, B, ...) after a few
warm-up rounds, so that drift in machine load hits both alike.  QEMU's front end is imported
from QEMU's source tree at run time (nothing of it is copied here).  Peak RSS comes from the
rusage that os.wait4 returns for each child.

    python bench/schema_check.py [--rounds 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_QEMU_SRC = "/var/cache/pyqmp/qemu-src"
RUN_TIMEOUT_SECONDS = 300.0

# Run by a separate interpreter with argv = [SRC, SCHEMA]; builds QEMU's resolved model.
QEMU_FRONT_END_SCRIPT = (
    "import sys; sys.path.insert(0, sys.argv[1] + '/scripts'); "
    "from qapi.schema import QAPISchema; QAPISchema(sys.argv[2])"
)


class BenchmarkError(Exception):
    """A side failed (non-zero exit, timeout) or could not be started."""


@dataclass
class Run:
    seconds: float
    max_rss_kib: int


@dataclass
class Summary:
    label: str
    command: list[str]
    rounds: int
    median_s: float
    min_s: float
    p90_s: float
    max_s: float
    peak_rss_kib: int
    median_rss_kib: int


@dataclass
class Side:
    label: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)

    def summary(self) -> Summary:
        times = sorted(run.seconds for run in self.runs)
        rss = [run.max_rss_kib for run in self.runs]
        return Summary(label=self.label, command=self.command, rounds=len(times),
                       median_s=statistics.median(times), min_s=times[0],
                       p90_s=percentile(times, 90), max_s=times[-1],
                       peak_rss_kib=max(rss), median_rss_kib=int(statistics.median(rss)))


def percentile(sorted_values: list[float], percent: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), for small samples."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = (len(sorted_values) - 1) * percent / 100
    lower = int(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * (
        position - lower)


def run_once(command: list[str], environment: dict[str, str] | None = None,
             timeout: float = RUN_TIMEOUT_SECONDS) -> Run:
    """Run command to completion; wall-clock seconds and the child's peak RSS."""
    # Output goes to a file, not a pipe, so a chatty child can never block on a full pipe.
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, env=environment)
        # os.wait4 has no timeout: a timer kills this child (by its PID) if it overruns.
        timed_out = threading.Event()

        def kill_on_timeout() -> None:
            timed_out.set()
            process.kill()

        timer = threading.Timer(timeout, kill_on_timeout)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if process.returncode != 0:
            output.seek(0)
            tail = output.read()[-2000:].decode(errors="replace")
            raise BenchmarkError(f"{shlex.join(command)} exited {process.returncode}"
                                 f"{' (killed after timeout)' if timed_out.is_set() else ''}"
                                 f":\n{tail}")
    return Run(seconds=elapsed, max_rss_kib=usage.ru_maxrss)  # ru_maxrss is KiB on Linux


def pyqmp_command(override: str | None, schema: Path) -> list[str]:
    if override is None:
        # The installed `pyqmp` command, as a user runs it (beside this interpreter).
        script = Path(sys.executable).parent / "pyqmp"
        if script.exists():
            return [str(script), "schema", "check", str(schema)]
        return [sys.executable, "-m", "pyqmp", "schema", "check", str(schema)]
    # "{schema}" marks where the schema goes; without it, the schema is the last argument.
    words = shlex.split(override)
    if any("{schema}" in word for word in words):
        return [word.replace("{schema}", str(schema)) for word in words]
    return [*words, str(schema)]


def qemu_command(python: str, source: Path, schema: Path) -> list[str]:
    return [python, "-c", QEMU_FRONT_END_SCRIPT, str(source), str(schema)]


def child_environment(bytecode_cache: Path | None) -> dict[str, str]:
    """The environment for both sides.

    With a cache directory, compiled bytecode goes there (not into QEMU's tree or ours) and is
    reused after the warm-up, as on any installed system; without one, both sides compile
    every module on every run.
    """
    environment = dict(os.environ)
    if bytecode_cache is None:
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        environment["PYTHONPYCACHEPREFIX"] = str(bytecode_cache)
    return environment


def benchmark(pyqmp: Side, qemu: Side, rounds: int, warmup: int,
              environment: dict[str, str]) -> None:
    for round_number in range(warmup + rounds):
        for side in (pyqmp, qemu):
            run = run_once(side.command, environment)
            if round_number >= warmup:
                side.runs.append(run)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qemu-src", type=Path,
                        default=Path(os.environ.get("PYQMP_QEMU_SRC", DEFAULT_QEMU_SRC)),
                        help="QEMU's source tree (default: $PYQMP_QEMU_SRC or %(default)s)")
    parser.add_argument("--schema", type=Path,
                        help="schema to check (default: QEMU's qapi/qapi-schema.json)")
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds per side")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds per side")
    parser.add_argument("--pyqmp-cmd", metavar="COMMAND",
                        help="command line for side A instead of `python -m pyqmp schema check`;"
                             " the schema is appended, or replaces {schema}")
    # The same interpreter on both sides by default: a different Python version, or a
    # wrapper such as a pyenv shim (~0.1 s of bash per start), would skew the comparison.
    parser.add_argument("--qemu-python", default=sys.executable,
                        help="interpreter for QEMU's front end (default: this one, %(default)s)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="compile every module on every run (default: cache bytecode in a "
                             "temporary directory, warmed up by the warm-up rounds)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    arguments = parser.parse_args(argv)
    if arguments.rounds < 1 or arguments.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup at least 0")
    return arguments


def report_text(pyqmp: Summary, qemu: Summary, ratio: float) -> str:
    lines = [
        f"{summary.label:<20} median {summary.median_s:.3f} s  min {summary.min_s:.3f} s  "
        f"p90 {summary.p90_s:.3f} s  peak RSS {summary.peak_rss_kib / 1024:.1f} MiB  "
        f"({summary.rounds} rounds)"
        for summary in (pyqmp, qemu)
    ]
    if round(ratio, 2) >= 1:
        lines.append(f"pyqmp is {ratio:.2f}x faster than QEMU's front end")
    else:
        lines.append(f"pyqmp is {1 / ratio:.2f}x slower than QEMU's front end "
                     f"(ratio {ratio:.2f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    source: Path = arguments.qemu_src
    schema: Path = arguments.schema or source / "qapi" / "qapi-schema.json"
    if not (source / "scripts" / "qapi" / "schema.py").is_file():
        print(f"error: no QEMU front end under {source}/scripts/qapi (--qemu-src)",
              file=sys.stderr)
        return 2
    if not schema.is_file():
        print(f"error: no schema file {schema}", file=sys.stderr)
        return 2
    pyqmp = Side("pyqmp schema check" if arguments.pyqmp_cmd is None else "--pyqmp-cmd",
                 pyqmp_command(arguments.pyqmp_cmd, schema))
    qemu = Side("QEMU front end", qemu_command(arguments.qemu_python, source, schema))
    with tempfile.TemporaryDirectory(prefix="pyqmp-bench-pycache-") as cache:
        environment = child_environment(None if arguments.no_bytecode_cache else Path(cache))
        try:
            benchmark(pyqmp, qemu, arguments.rounds, arguments.warmup, environment)
        except (BenchmarkError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    pyqmp_summary, qemu_summary = pyqmp.summary(), qemu.summary()
    ratio = qemu_summary.median_s / pyqmp_summary.median_s
    if arguments.json:
        print(json.dumps({
            "benchmark": "schema_check",
            "schema": str(schema),
            "rounds": arguments.rounds,
            "warmup": arguments.warmup,
            "bytecode_cache": not arguments.no_bytecode_cache,
            "pyqmp": asdict(pyqmp_summary),
            "qemu": asdict(qemu_summary),
            "runs": {"pyqmp": [asdict(run) for run in pyqmp.runs],
                     "qemu": [asdict(run) for run in qemu.runs]},
            "ratio_qemu_over_pyqmp": ratio,
        }, indent=2))
    else:
        print(f"schema: {schema}  ({arguments.rounds} rounds each, {arguments.warmup} warm-up,"
              f" interleaved, bytecode "
              f"{'not cached' if arguments.no_bytecode_cache else 'cached'})")
        print(report_text(pyqmp_summary, qemu_summary, ratio))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
