"""Soak: many clients connecting and leaving, badly, against a machine with a flooding guest.

    python bench/soak.py [--clients 100] [--seconds 60] [--fault flood|none|hang|garbage|...]
                         [--ram 128M] [--seed N] [--json]

One `pyqmp machine -m RAM --guest-fault FAULT` with a unix monitor and a loopback TCP one.
``--clients`` client tasks (one asyncio process) each connect, behave one way, leave, and
start again until ``--seconds`` have passed.  The behaviours, picked at random:

- **polite**: read the greeting, negotiate, send a query (query-status, query-balloon,
  query-balloon-stats, qom-get guest-stats), read its answer, close;
- **garbage**: send random bytes, close;
- **half**: send the first half of a request, close;
- **mute**: connect and say nothing for up to 2 s, close;
- **never reading**: negotiate, then send query-qmp-schema over and over for up to 2 s
  without reading a byte (the monitor must stop reading it, not buffer), close;
- **reset**: on TCP, negotiate, send a request and close with SO_LINGER 0 (an RST).

Each client uses the unix monitor except for *reset*, which needs TCP.  A connect that is
refused (ECONNREFUSED, or EAGAIN from a full unix backlog) is counted, and tried again.

Reported: connections made and refused (the goal: none refused), polite queries answered of
those sent (the goal: all), and the machine's open file descriptors, threads and RSS from
/proc/PID at the start (after one polite client) and at the end (once every client has
gone, waiting up to 15 s for the fds to come back, then 1 s for freed memory to be
given back).  Exit 0 when nothing was refused, every
polite query was answered and the fds came back; 1 otherwise; 2 if the machine would not
start.  A benchmark, not a test: ``tests/bench/test_soak_bench.py`` runs it for a few
seconds so that it cannot rot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT = 30.0
READ_TIMEOUT = 10.0
SETTLE_TIMEOUT = 15.0
# After the fds are back, how long before the end sample (the machine's heap trim).
RELEASE_DELAY = 1.0
EXIT_TIMEOUT = 10.0
BALLOON = "/machine/peripheral/balloon0"
BEHAVIOURS = ("polite", "garbage", "half", "mute", "never_reading", "reset")
FAULTS = ("none", "hang", "crash", "garbage", "flood", "lie", "slow")
POLITE_QUERIES = (
    {"execute": "query-status"},
    {"execute": "query-balloon"},
    {"execute": "query-balloon-stats"},
    {"execute": "qom-get", "arguments": {"path": BALLOON, "property": "guest-stats"}},
)


class SoakError(Exception):
    """The soak could not run (the machine did not start)."""


@dataclass
class Counts:
    connections: int = 0
    refused: int = 0
    refusal_errors: dict[str, int] = field(default_factory=dict)
    behaviours: dict[str, int] = field(default_factory=dict)
    polite_sent: int = 0
    polite_answered: int = 0
    polite_failures: dict[str, int] = field(default_factory=dict)

    def bump(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1


@dataclass
class ProcessSample:
    fds: int
    threads: int
    rss_kib: int
    peak_rss_kib: int


def sample(pid: int) -> ProcessSample:
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return ProcessSample(
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=int(values["Threads"]),
        rss_kib=int(values["VmRSS"].split()[0]),
        peak_rss_kib=int(values["VmHWM"].split()[0]),
    )


# -- the machine ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Machine:
    """`pyqmp machine` under soak; stopped by its PID."""

    def __init__(self, directory: str, ram: str, fault: str) -> None:
        self.unix_path = os.path.join(directory, "qmp.sock")
        self.port = free_port()
        argv = [sys.executable, "-m", "pyqmp", "machine", "-m", ram]
        if fault != "none":
            argv += ["--guest-fault", fault]
        argv += ["--qmp", f"unix:{self.unix_path}", "--qmp", f"tcp:127.0.0.1:{self.port}"]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop()
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not (os.path.exists(self.unix_path) and self._tcp_listening()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SoakError(f"the machine did not start: {self.output()[-2000:]}")
            time.sleep(0.05)

    def _tcp_listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(EXIT_TIMEOUT)
        self.log.close()


# -- the clients ----------------------------------------------------------------------------


async def connect(machine: Machine, tcp: bool, counts: Counts) -> socket.socket:
    """A connected non-blocking socket; refusals are counted and retried."""
    loop = asyncio.get_running_loop()
    while True:
        if tcp:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address: Any = ("127.0.0.1", machine.port)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address = machine.unix_path
        sock.setblocking(False)
        error = sock.connect_ex(address)
        if error in (errno.EINPROGRESS, errno.EAGAIN) and tcp:
            try:
                await loop.sock_connect(sock, address)
                error = 0
            except OSError as failure:
                error = failure.errno or errno.ECONNREFUSED
        if error == 0:
            counts.connections += 1
            return sock
        sock.close()
        counts.refused += 1
        counts.bump(counts.refusal_errors, errno.errorcode.get(error, str(error)))
        await asyncio.sleep(0.01)


async def read_message(sock: socket.socket, buffer: bytearray) -> dict[str, Any]:
    """The next JSON line, skipping events; ConnectionError if the server closes."""
    loop = asyncio.get_running_loop()
    while True:
        while b"\n" in buffer:
            line, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            message = json.loads(line)
            if "event" not in message:
                return dict(message)
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), READ_TIMEOUT)
        if not chunk:
            raise ConnectionError("closed by the machine")
        buffer += chunk


async def negotiate(sock: socket.socket, buffer: bytearray) -> None:
    loop = asyncio.get_running_loop()
    greeting = await read_message(sock, buffer)
    assert "QMP" in greeting, greeting
    await loop.sock_sendall(sock, b'{"execute": "qmp_capabilities"}\n')
    reply = await read_message(sock, buffer)
    assert reply == {"return": {}}, reply


async def polite(machine: Machine, counts: Counts, rng: random.Random) -> None:
    sock = await connect(machine, False, counts)
    loop = asyncio.get_running_loop()
    buffer = bytearray()
    try:
        await negotiate(sock, buffer)
        request = dict(rng.choice(POLITE_QUERIES), id=rng.randrange(1 << 30))
        await loop.sock_sendall(sock, json.dumps(request).encode() + b"\n")
        counts.polite_sent += 1
        reply = await read_message(sock, buffer)
        if "return" in reply and reply.get("id") == request["id"]:
            counts.polite_answered += 1
        else:
            counts.bump(counts.polite_failures, f"reply {str(reply)[:80]}")
    except (TimeoutError, OSError, ConnectionError, AssertionError) as error:
        counts.bump(counts.polite_failures, type(error).__name__)
    finally:
        sock.close()


async def garbage(machine: Machine, counts: Counts, rng: random.Random) -> None:
    sock = await connect(machine, False, counts)
    with contextlib.suppress(OSError):
        await asyncio.get_running_loop().sock_sendall(sock, rng.randbytes(rng.randrange(1, 4096)))
    sock.close()


async def half(machine: Machine, counts: Counts, rng: random.Random) -> None:
    sock = await connect(machine, False, counts)
    request = b'{"execute": "query-balloon-stats", "id": "half"}\n'
    with contextlib.suppress(OSError):
        await asyncio.get_running_loop().sock_sendall(sock, request[: rng.randrange(1, 40)])
    sock.close()


async def mute(machine: Machine, counts: Counts, rng: random.Random) -> None:
    sock = await connect(machine, False, counts)
    await asyncio.sleep(rng.uniform(0, 2))
    sock.close()


async def never_reading(machine: Machine, counts: Counts, rng: random.Random) -> None:
    sock = await connect(machine, False, counts)
    loop = asyncio.get_running_loop()
    try:
        await negotiate(sock, bytearray())
        requests = b'{"execute": "query-qmp-schema"}\n' * 64
        until = time.monotonic() + rng.uniform(0.2, 2)
        while time.monotonic() < until:
            # sends block once the machine stops reading: wait for that, never read
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(loop.sock_sendall(sock, requests), until - time.monotonic())
    except (TimeoutError, OSError, ConnectionError, AssertionError):
        pass
    finally:
        sock.close()


async def reset(machine: Machine, counts: Counts, rng: random.Random) -> None:
    sock = await connect(machine, True, counts)
    try:
        if rng.random() < 0.5:
            await negotiate(sock, bytearray())
        await asyncio.get_running_loop().sock_sendall(sock, b'{"execute": "query-status"}\n')
    except (TimeoutError, OSError, ConnectionError, AssertionError):
        pass
    finally:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # an RST, not a FIN


ACTIONS = {
    "polite": polite,
    "garbage": garbage,
    "half": half,
    "mute": mute,
    "never_reading": never_reading,
    "reset": reset,
}


async def client(machine: Machine, counts: Counts, until: float, seed: int) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        behaviour = rng.choice(BEHAVIOURS)
        counts.bump(counts.behaviours, behaviour)
        await ACTIONS[behaviour](machine, counts, rng)


async def soak(machine: Machine, clients: int, seconds: float, seed: int) -> Counts:
    counts = Counts()
    until = time.monotonic() + seconds
    await asyncio.gather(*(client(machine, counts, until, seed + n) for n in range(clients)))
    return counts


# -- the run ----------------------------------------------------------------------------------


def settle(pid: int, start: ProcessSample) -> ProcessSample:
    """The machine's sample once its fds are back to ``start`` (or after SETTLE_TIMEOUT)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    end = sample(pid)
    while end.fds > start.fds and time.monotonic() < deadline:
        time.sleep(0.1)
        end = sample(pid)
    # The machine gives freed memory back to the system within half a second of the
    # clients leaving (server/heap.py): the RSS is sampled once that is past.
    time.sleep(RELEASE_DELAY)
    return sample(pid)


def run(options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pyqmp-soak-") as directory:
        machine = Machine(directory, options.ram, options.fault)
        try:
            warmup = asyncio.run(soak_polite_once(machine))
            start = sample(machine.pid)
            started = time.monotonic()
            counts = Counts()
            rounds = []
            for number in range(options.repeat):
                seed = options.seed + number * options.clients
                add(counts, asyncio.run(soak(machine, options.clients, options.seconds, seed)))
                rounds.append(asdict(settle(machine.pid, start)))
            elapsed = time.monotonic() - started
            end = ProcessSample(**rounds[-1])
            alive = machine.process.poll() is None
            log = machine.output()
        finally:
            machine.stop()
    refused_by_machine = log.count(": refused ")
    return {
        "clients": options.clients,
        "seconds": round(elapsed, 1),
        "fault": options.fault,
        "warmup_polite_answered": warmup,
        "counts": asdict(counts),
        "machine_refused_in_log": refused_by_machine,
        "machine_alive": alive,
        "start": asdict(start),
        "end": asdict(end),
        "after_each_round": rounds,
    }


async def soak_polite_once(machine: Machine) -> int:
    counts = Counts()
    await polite(machine, counts, random.Random(0))
    return counts.polite_answered


def add(total: Counts, more: Counts) -> None:
    for name, value in asdict(more).items():
        if isinstance(value, dict):
            table = getattr(total, name)
            for key, count in value.items():
                table[key] = table.get(key, 0) + count
        else:
            setattr(total, name, getattr(total, name) + value)


def verdict(result: dict[str, Any]) -> list[str]:
    """What missed its goal (empty: every goal met)."""
    counts = result["counts"]
    missed = []
    if counts["refused"]:
        missed.append(f"{counts['refused']} connections refused")
    if counts["polite_answered"] != counts["polite_sent"]:
        missed.append(f"{counts['polite_sent'] - counts['polite_answered']} polite unanswered")
    if result["end"]["fds"] > result["start"]["fds"]:
        missed.append("open fds not back to the start")
    if not result["machine_alive"]:
        missed.append("the machine died")
    return missed


def format_report(result: dict[str, Any]) -> str:
    counts, start, end = result["counts"], result["start"], result["end"]
    behaviours = ", ".join(f"{k} {v}" for k, v in sorted(counts["behaviours"].items()))
    lines = [
        f"soak: {result['clients']} clients for {result['seconds']} s "
        f"({len(result['after_each_round'])} rounds) against "
        f"pyqmp machine --guest-fault {result['fault']}",
        f"  connections made    {counts['connections']} ({behaviours})",
        f"  refused             {counts['refused']} {counts['refusal_errors'] or ''}"
        f" (machine log: {result['machine_refused_in_log']})",
        f"  polite answered     {counts['polite_answered']} / {counts['polite_sent']}"
        + (f" failures {counts['polite_failures']}" if counts["polite_failures"] else ""),
        "  machine             start      end",
        f"  open fds            {start['fds']:<10} {end['fds']}",
        f"  threads             {start['threads']:<10} {end['threads']}",
        f"  RSS KiB             {start['rss_kib']:<10} {end['rss_kib']}",
        f"  peak RSS KiB        {start['peak_rss_kib']:<10} {end['peak_rss_kib']}",
    ]
    if len(result["after_each_round"]) > 1:
        lines.append(
            "  RSS KiB after each round: "
            + ", ".join(str(r["rss_kib"]) for r in result["after_each_round"])
        )
    missed = verdict(result)
    lines.append("  goals: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients (100)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (60)")
    parser.add_argument("--fault", choices=FAULTS, default="flood", help="the guest's fault")
    parser.add_argument("--ram", default="128M", help="the machine's -m (128M)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="soak again on the same machine (RSS per round)"
    )
    parser.add_argument("--seed", type=int, default=1, help="the behaviours' random seed")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    options = parser.parse_args(argv)
    if options.clients < 1 or not options.seconds > 0 or options.repeat < 1:
        parser.error("--clients, --seconds and --repeat must be positive")
    try:
        result = run(options)
    except SoakError as error:
        print(f"soak: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if options.json else format_report(result))
    return 1 if verdict(result) else 0


if __name__ == "__main__":
    raise SystemExit(main())
