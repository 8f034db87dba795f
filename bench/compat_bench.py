"""Benchmark: what hiding deprecated/unstable reply members costs, QEMU 7.2 and pyqmp side by side.

Each side answers, one request at a time, a query whose reply has a member its policy hides:
QEMU's `query-migrate-parameters` (unstable `x-checkpoint-delay`) and pyqmp's `query-balloon`
(QEMU 0.13's deprecated memory statistics, present once the guest has reported them).  Each
target runs twice, without a policy and under
`-compat deprecated-output=hide,unstable-output=hide`; rounds are interleaved, medians are
reported, and the figure of merit is each side's hide/accept rate ratio (1.00: hiding is free).

    .venv/bin/python bench/compat_bench.py [--seconds 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import replace

from qmp_bench import TargetSpec, qemu_spec, started
from qmp_bench_client import BenchmarkError, LineClient, connected, sequential

POLICY = "deprecated-output=hide,unstable-output=hide"
STATS_TIMEOUT_SECONDS = 30.0
WARMUP = 200
QEMU_QUERY = b'{"execute":"query-migrate-parameters"}\n'
PYQMP_QUERY = b'{"execute":"query-balloon"}\n'
HIDDEN = {"qemu": b'"x-checkpoint-delay"', "pyqmp": b'"free_mem"'}


def spec(target: str, hide: bool, qemu: str) -> TargetSpec:
    """The target (qmp_bench.py's, with a policy or not), serving its sockets."""
    policy = ["-compat" if target == "qemu" else "--compat", POLICY] if hide else []
    if target == "qemu":
        return replace(qemu_spec(qemu, policy[1:]), name=f"qemu{' hide' if hide else ''}")

    def argv(sockets: list[str]) -> list[str]:  # running: no -S, so the guest reports stats
        command = [sys.executable, "-m", "pyqmp", "machine", "-m", "128M", *policy]
        for path in sockets:
            command += ["--qmp", f"unix:{path}"]
        return command

    return TargetSpec(f"pyqmp{' hide' if hide else ''}", argv)


def ready(target: str, socket_path: str) -> None:
    """Wait until the reply has its hidden member (without a policy): the guest's stats."""
    client: LineClient = connected(socket_path)
    try:
        query = QEMU_QUERY if target == "qemu" else PYQMP_QUERY
        deadline = time.monotonic() + STATS_TIMEOUT_SECONDS
        while HIDDEN[target] not in client.call(query):
            if target == "qemu" or time.monotonic() > deadline:
                raise BenchmarkError(f"{target}: the reply never had {HIDDEN[target]!r}")
            client.call(b'{"execute":"balloon-stats-refresh"}\n')
            time.sleep(0.05)
    finally:
        client.close()


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument(
        "--qemu", default=shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
    )
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(arguments)
    runs = [(target, hide) for target in ("qemu", "pyqmp") for hide in (False, True)]
    rates: dict[tuple[str, bool], list[float]] = {run: [] for run in runs}
    with (
        tempfile.TemporaryDirectory(prefix="pyqmp-compat-bench-") as directory,
        ExitStack() as stack,
    ):
        paths = {}
        for target, hide in runs:
            running = stack.enter_context(
                started(
                    spec(target, hide, options.qemu), os.path.join(directory, f"{target}{hide}")
                )
            )
            paths[target, hide] = running.sockets[0]
        for target, _ in runs:
            ready(target, paths[target, False])
        for _ in range(options.rounds):
            for target, hide in runs:
                query = QEMU_QUERY if target == "qemu" else PYQMP_QUERY
                measured = sequential(paths[target, hide], options.seconds, 200_000, WARMUP, query)
                rates[target, hide].append(measured.count / measured.seconds)
    medians = {
        f"{target}{' hide' if hide else ''}": statistics.median(rates[target, hide])
        for target, hide in runs
    }
    ratios = {target: medians[f"{target} hide"] / medians[target] for target in ("qemu", "pyqmp")}
    if options.json:
        print(json.dumps({"rates": medians, "hide_over_accept": ratios}, indent=2))
    else:
        for name, rate in medians.items():
            print(f"{name:12} {rate:10,.0f} replies/s")
        for target, ratio in ratios.items():
            print(f"{target:12} hide/accept {ratio:.2f}x")
        print(f"pyqmp/qemu under hide: {medians['pyqmp hide'] / medians['qemu hide']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
