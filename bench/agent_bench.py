"""The agent under a fleet: scrape latency, its memory, and events to NATS without loss.

    .venv/bin/python bench/agent_bench.py [--monitors 200] [--frozen-share 0.1]
                                          [--events 10000] [--rate 1000] [--scrapes 300]

One ``pyqmp agent --watch DIR --nats URL --metrics`` watches MONITORS pyqmp machines
served by two ``pyqmp sim-fleet`` processes in DIR (see README, "A simulated fleet"): the
healthy share, and the frozen share, which is SIGSTOPped once the agent knows every VM,
so that its monitors accept connections but never answer (a frozen QEMU).  Then:

- scrapes: SCRAPES sequential GETs of /metrics before the event burst, then one every
  10 ms for as long as the burst lasts; p50/p99/max of each in milliseconds (target: p99 <
  50 ms);
- memory: the agent's VmRSS from /proc, sampled throughout; the peak (target < 150 MiB);
- events: the healthy fleet makes EVENTS stop/cont calls at RATE a second (one QMP event
  each); a NATS subscriber on ``qmp.HOST.*.event.STOP`` and ``.RESUME`` counts what
  arrives (target: all of them), and the agent's dropped-event counters are read too.

nats-server is Debian's (installed by tools/setup.sh), started on a free loopback port
and stopped by PID, as are the fleets and the agent.  The goals come from issue 10.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "agent"))

from fleet_services import AgentProcess, NatsServer, SimFleet, wait_until

HOST = "bench"
START_DEADLINE = 300.0  # a shared 2-core machine: connecting 500 monitors takes a while
SCRAPE_GAP = 0.01  # between two scrapes during the burst (a scraper, not a busy loop)


class EventCounter:
    """A NATS subscriber in its own thread, counting the agent's events."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.count = 0
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise AssertionError("the NATS subscriber did not start")

    async def _run(self) -> None:
        import nats

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        client = await nats.connect(self.url)

        async def counted(message: object) -> None:
            self.count += 1

        # Only the events the fleet makes (the agent's own polling causes others, such as
        # BALLOON_STATS_UPDATE).
        for name in ("STOP", "RESUME"):
            await client.subscribe(
                f"qmp.{HOST}.*.event.{name}", cb=counted, pending_msgs_limit=1_000_000
            )
        await client.flush()
        self._ready.set()
        await self._stop.wait()
        await client.close()

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def scrape_ms(agent: AgentProcess) -> float:
    began = time.perf_counter()
    agent.scrape()
    return (time.perf_counter() - began) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=200)
    parser.add_argument("--frozen-share", type=float, default=0.1)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--scrapes", type=int, default=300)
    args = parser.parse_args()
    frozen = round(args.monitors * args.frozen_share)
    healthy = args.monitors - frozen

    with contextlib.ExitStack() as stack:
        directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="agent-bench-"))
        nats = NatsServer(directory)
        stack.callback(nats.stop)
        fleets = Path(directory) / "vms"
        fleets.mkdir()
        live = SimFleet(
            str(fleets), healthy, "--events", str(args.events), "--rate", str(args.rate)
        )
        stack.callback(live.stop)
        still = SimFleet(str(fleets), frozen, "--prefix", "frozen-") if frozen else None
        if still is not None:
            stack.callback(still.stop)
        agent = AgentProcess(
            "--watch", str(fleets), "--nats", nats.url, "--host-name", HOST, "--interval", "2"
        )
        stack.callback(agent.stop)
        pid = agent.process.pid
        began = time.monotonic()
        wait_until(
            lambda: sum(agent.vms().values()) == args.monitors,
            START_DEADLINE,
            f"all {args.monitors} VMs up",
            interval=0.5,
        )
        print(f"{args.monitors} VMs up after {time.monotonic() - began:.1f} s")
        if still is not None:
            still.process.signal(signal.SIGSTOP)
            wait_until(
                lambda: sum(1 for up in agent.vms().values() if not up) == frozen,
                START_DEADLINE,
                f"{frozen} frozen VMs down",
                interval=0.5,
            )
            print(f"{frozen} frozen VMs show qemu_up 0")
        counter = EventCounter(nats.url)
        stack.callback(counter.close)

        peak_rss = rss_bytes(pid)
        quiet = []
        for _ in range(args.scrapes):
            quiet.append(scrape_ms(agent))
            peak_rss = max(peak_rss, rss_bytes(pid))
        live.process.signal(signal.SIGUSR1)
        burst_began = time.monotonic()
        busy = []
        while "made " not in live.process.output():  # scrape for as long as the burst lasts
            busy.append(scrape_ms(agent))
            peak_rss = max(peak_rss, rss_bytes(pid))
            time.sleep(SCRAPE_GAP)
        made_line = live.process.wait_output("made ", timeout=START_DEADLINE)
        made = int(made_line.split("made ", 1)[1].split()[0])
        with contextlib.suppress(AssertionError):
            wait_until(lambda: counter.count >= made, 60.0, "every event on NATS", interval=0.1)
        settled = time.monotonic() - burst_began
        peak_rss = max(peak_rss, rss_bytes(pid))
        arrived = counter.count
        samples = agent.samples()
        dropped = {
            where: samples.get(("pyqmp_agent_dropped_events_total", frozenset({("where", where)})))
            for where in ("monitor", "nats")
        }

    print(f"agent with {args.monitors} monitors ({frozen} frozen):")
    for what, times in (("quiet", quiet), ("during the burst", busy)):
        print(
            f"  scrape ms, {len(times)} sequential, {what}: p50 {percentile(times, 0.5):.2f}  "
            f"p99 {percentile(times, 0.99):.2f}  max {max(times):.2f}  (goal p99 < 50)"
        )
    print(f"  agent peak RSS: {peak_rss / 2**20:.1f} MiB  (goal < 150)")
    print(
        f"  events: made {made} ({made_line.split('made ', 1)[1].strip()}), "
        f"arrived on NATS {arrived} ({made - arrived} lost) within "
        f"{settled:.1f} s of the burst's start; agent dropped {dropped}"
    )
    return 0 if arrived == made else 1


if __name__ == "__main__":
    raise SystemExit(main())
