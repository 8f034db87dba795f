"""pyqmp's QMPClient against qemu.qmp's QMPClient, side by side, on one `pyqmp machine`.

One `pyqmp machine -S` is started with two unix monitors and stays up for the whole run.  Each
measurement runs in a fresh child process (this script with ``--worker``), so that one client's
memory or event-loop state never touches the other's, and rounds alternate pyqmp, qemu.qmp,
pyqmp, ...  Workloads, each bounded by ``--seconds`` and a count:

- ``sequential``: ``await execute('query-status')`` one after another on one connection;
- ``concurrent``: 8 tasks doing the same on the one connection at once;
- ``flood``: the client subscribes to events (pyqmp: ``qmp.events()`` with its default bound;
  qemu.qmp: its default event listener) and never reads them, while another monitor makes the
  machine emit ``--flood-events`` STOP/RESUME events; reported is the growth of the client
  process's RSS and how many events it holds.

Both clients run on the same kind of event loop, asyncio's by default (``--loop uvloop`` for
uvloop, ``--loop both`` for each).  It prints the median of the rounds per client and the ratio
pyqmp / qemu.qmp.  The machine is a shared 2-core box: compare ratios from one run, not numbers
across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

CLIENTS = ("pyqmp", "qemu.qmp")
WORKLOADS = ("sequential", "concurrent", "flood")
STARTUP_TIMEOUT = 20.0
WORKER_TIMEOUT = 300.0
TASKS = 8


# -- the worker: one client, one workload, in its own process ------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def open_client(kind: str, path: str) -> Any:
    if kind == "pyqmp":
        from pyqmp.client import QMPClient

        client = QMPClient("bench")
        await client.connect(path, timeout=10)
        return client
    from qemu.qmp import QMPClient as QemuQMPClient

    client = QemuQMPClient("bench")
    await asyncio.wait_for(client.connect(path), 10)
    return client


async def timed_calls(client: Any, seconds: float, limit: int, tasks: int) -> dict[str, Any]:
    execute = client.execute
    for _ in range(200):  # warm-up, unmeasured
        await execute("query-status")
    deadline = time.perf_counter() + seconds
    per_task = limit // tasks
    counts = [0] * tasks

    async def worker(index: int) -> None:
        done = 0
        while done < per_task:
            for _ in range(100):
                reply = await execute("query-status")
            done += 100
            if time.perf_counter() > deadline:
                break
        assert reply["running"] is False, reply  # the machine stays paused throughout
        counts[index] = done

    started = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(worker(index) for index in range(tasks)))
    elapsed = time.perf_counter() - started
    total = sum(counts)
    return {
        "count": total,
        "seconds": elapsed,
        "rate": total / elapsed,
        "client_cpu_us": (time.process_time() - cpu) / total * 1e6,
    }


def flood_events(path: str, count: int) -> None:
    """Make the machine emit ``count`` events (STOP and RESUME), on a raw connection."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(path)
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b'{"execute": "qmp_capabilities"}\n')
        reader.readline()
        batch = 500
        for start in range(0, count, 2 * batch):
            pairs = min(batch, (count - start + 1) // 2)
            sock.sendall(b'{"execute": "cont"}\n{"execute": "stop"}\n' * pairs)
            replies = 0
            while replies < 2 * pairs:
                if b'"return"' in reader.readline():
                    replies += 1


async def flood(client: Any, kind: str, path: str, flooder_path: str, count: int) -> dict[str, Any]:
    if kind == "pyqmp":
        stream = client.events()  # subscribed, never read
        held = lambda: len(stream)  # noqa: E731
    else:
        held = lambda: client.events._queue.qsize()  # noqa: E731  (its default listener)
    before = rss_bytes()
    loop = asyncio.get_running_loop()
    flooder = loop.run_in_executor(None, flood_events, flooder_path, count)
    await asyncio.wait_for(flooder, WORKER_TIMEOUT)
    # The events are in the client's socket buffer or already read: a call after them
    # returns once every event before its reply has been taken in.
    await client.execute("query-status")
    await client.execute("cont")
    await client.execute("stop")
    await asyncio.sleep(0.2)
    await client.execute("query-status")
    result = {"events": count, "held": held(), "rss_growth_mb": (rss_bytes() - before) / 2**20}
    if kind == "pyqmp":
        result["dropped"] = stream.dropped
    return result


async def worker_main(options: argparse.Namespace) -> dict[str, Any]:
    client = await open_client(options.worker, options.socket)
    try:
        if options.workload == "flood":
            return await flood(
                client, options.worker, options.socket, options.flood_socket, options.flood_events
            )
        tasks = TASKS if options.workload == "concurrent" else 1
        return await timed_calls(client, options.seconds, options.max_count, tasks)
    finally:
        await client.disconnect()


def run_worker(options: argparse.Namespace) -> int:
    if options.loop == "uvloop":
        import uvloop

        result = uvloop.run(worker_main(options))
    else:
        result = asyncio.run(worker_main(options))
    print(json.dumps(result))
    return 0


# -- the parent: one machine, alternating rounds ---------------------------------------------


def start_machine(python: str, sockets: list[str]) -> subprocess.Popen[bytes]:
    argv = [python, "-m", "pyqmp", "machine", "-S", "-m", "128M"]
    for path in sockets:
        argv += ["--qmp", f"unix:{path}"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not all(os.path.exists(path) for path in sockets):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"pyqmp machine did not start: {process.stderr}")
        time.sleep(0.05)
    return process


def measure(
    options: argparse.Namespace, client: str, loop: str, workload: str, sockets: list[str]
) -> dict[str, Any]:
    argv = [
        options.python,
        __file__,
        "--worker",
        client,
        "--loop",
        loop,
        "--workload",
        workload,
        "--socket",
        sockets[0],
        "--flood-socket",
        sockets[1],
        "--seconds",
        str(options.seconds),
        "--max-count",
        str(options.max_count),
        "--flood-events",
        str(options.flood_events),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    if done.returncode != 0:
        raise SystemExit(f"{client} {workload} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-count", type=int, default=200_000)
    parser.add_argument("--flood-events", type=int, default=100_000)
    parser.add_argument("--loop", choices=("asyncio", "uvloop", "both"), default="asyncio")
    parser.add_argument("--only", type=lambda text: text.split(","), default=list(WORKLOADS))
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--workload", choices=WORKLOADS, help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    parser.add_argument("--flood-socket", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    unknown = [workload for workload in options.only if workload not in WORKLOADS]
    if unknown:
        parser.error(f"--only: unknown workload {unknown[0]!r}; expected some of {WORKLOADS}")
    if options.rounds < 1 or options.seconds <= 0:
        parser.error("--rounds must be at least 1 and --seconds positive")
    if options.worker:
        return run_worker(options)
    loops = ["asyncio", "uvloop"] if options.loop == "both" else [options.loop]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pyqmp-client-bench-") as directory:
        sockets = [os.path.join(directory, f"qmp{index}.sock") for index in range(2)]
        machine = start_machine(options.python, sockets)
        try:
            for loop in loops:
                for workload in options.only:
                    rounds: dict[str, list[dict[str, Any]]] = {client: [] for client in CLIENTS}
                    for _ in range(options.rounds):
                        for client in CLIENTS:
                            rounds[client].append(measure(options, client, loop, workload, sockets))
                            print(
                                f"  {loop} {workload} {client}: {rounds[client][-1]}",
                                file=sys.stderr,
                            )
                    results[f"{loop}/{workload}"] = rounds
        finally:
            machine.terminate()
            machine.wait(timeout=10)
    summary = summarize(results)
    if options.json:
        print(json.dumps({"summary": summary, "rounds": results}, indent=2))
    else:
        for line in summary["lines"]:
            print(line)
    return 0


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    lines = []
    ratios: dict[str, float] = {}
    for key, rounds in results.items():
        loop, workload = key.split("/")
        if workload == "flood":
            for client in CLIENTS:
                growth = statistics.median(r["rss_growth_mb"] for r in rounds[client])
                held = statistics.median(r["held"] for r in rounds[client])
                events = rounds[client][0]["events"]
                lines.append(
                    f"{loop:8} flood      {client:9} {events} unread events: holds {held:,.0f}, "
                    f"RSS +{growth:.1f} MB"
                )
            continue
        rates = {c: statistics.median(r["rate"] for r in rounds[c]) for c in CLIENTS}
        cpu = {c: statistics.median(r["client_cpu_us"] for r in rounds[c]) for c in CLIENTS}
        ratio = rates["pyqmp"] / rates["qemu.qmp"]
        ratios[key] = ratio
        lines.append(
            f"{loop:8} {workload:10} pyqmp {rates['pyqmp']:9,.0f}/s ({cpu['pyqmp']:.1f} us CPU)"
            f"   qemu.qmp {rates['qemu.qmp']:9,.0f}/s ({cpu['qemu.qmp']:.1f} us CPU)"
            f"   ratio {ratio:.2f}x"
        )
    return {"lines": lines, "ratios": ratios}


if __name__ == "__main__":
    raise SystemExit(main())
