"""The lean QMP client and the five workloads of qmp_bench.py.

The client must never be what is measured, so it does as little as Python allows: blocking
AF_UNIX sockets, request bytes formatted once before the clock starts, and replies split on b"\n"
with a fast path for the usual case (one recv returns exactly one whole `{"return"...` line).
Anything unusual (an event, an error, a reply split over two recvs) takes a slow path that parses
JSON, so every reply is still checked.  Every wait is bounded by the socket timeout; every loop by
a count and a time.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SOCKET_TIMEOUT_SECONDS = 10.0
RECV_BYTES = 1 << 16
SCHEMA_BUFFER_BYTES = 16 << 20
RETURN_PREFIX = b'{"return"'

NEGOTIATE = b'{"execute":"qmp_capabilities"}\n'
QUERY_STATUS = b'{"execute":"query-status"}\n'
QUERY_SCHEMA = b'{"execute":"query-qmp-schema"}\n'


class BenchmarkError(Exception):
    """The server misbehaved (error reply, hang-up, timeout) or a target could not run."""


@dataclass
class Measurement:
    """One workload run: `count` operations in `seconds`, with per-operation latencies."""

    count: int
    seconds: float
    latencies_ns: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "count": self.count,
            "seconds": round(self.seconds, 4),
            "rate": self.count / self.seconds if self.seconds > 0 else 0.0,
        }
        if self.latencies_ns:
            ordered = sorted(self.latencies_ns)
            result["p50_us"] = percentile(ordered, 0.50) / 1000
            result["p99_us"] = percentile(ordered, 0.99) / 1000
        result.update(self.extra)
        return result


def percentile(ordered: list[int], fraction: float) -> float:
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return float(ordered[index])


def _check_messages(data: bytes) -> int:
    """Number of replies in `data` (whole lines), skipping events; raise on anything else."""
    replies = 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError as error:
            raise BenchmarkError(f"unparsable line from the server: {line[:200]!r}") from error
        if isinstance(message, dict) and "event" in message:
            continue
        if not isinstance(message, dict) or "return" not in message:
            raise BenchmarkError(f"not a successful reply: {line[:300]!r}")
        replies += 1
    return replies


class LineClient:
    """One negotiated QMP connection with a blocking socket."""

    __slots__ = ("buffer", "sock")

    def __init__(self, path: str, timeout: float = SOCKET_TIMEOUT_SECONDS) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.buffer = b""
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise

    def close(self) -> None:
        self.sock.close()

    def read_line(self) -> bytes:
        buffer = self.buffer
        while True:
            end = buffer.find(b"\n")
            if end >= 0:
                self.buffer = buffer[end + 1:]
                return buffer[:end + 1]
            chunk = self.sock.recv(RECV_BYTES)
            if not chunk:
                raise BenchmarkError("the server closed the connection")
            buffer += chunk

    def negotiate(self) -> bytes:
        greeting = self.read_line()
        if not greeting.startswith(b'{"QMP"'):
            raise BenchmarkError(f"not a QMP greeting: {greeting[:200]!r}")
        self.call(NEGOTIATE)
        return greeting

    def call(self, request: bytes) -> bytes:
        """Send one request and return its reply line (events skipped, errors raised)."""
        self.sock.sendall(request)
        while True:
            line = self.read_line()
            if _check_messages(line) == 1:
                return line

    def roundtrip(self, request: bytes) -> None:
        """`call` without keeping the reply: the hot loop of the small-reply workloads."""
        sock = self.sock
        sock.sendall(request)
        data = sock.recv(RECV_BYTES)
        if data.startswith(RETURN_PREFIX) and data.find(b"\n") == len(data) - 1:
            return
        self._finish_reply(data)

    def _finish_reply(self, data: bytes) -> None:
        while True:
            if not data:
                raise BenchmarkError("the server closed the connection")
            while not data.endswith(b"\n"):
                more = self.sock.recv(RECV_BYTES)
                if not more:
                    raise BenchmarkError("the server closed the connection mid-reply")
                data += more
            replies = _check_messages(data)
            if replies == 1:
                return
            if replies > 1:
                raise BenchmarkError(f"{replies} replies to one request: {data[:300]!r}")
            data = self.sock.recv(RECV_BYTES)    # only events so far


def connected(path: str) -> LineClient:
    client = LineClient(path)
    try:
        client.negotiate()
    except BaseException:
        client.close()
        raise
    return client


# ---------------------------------------------------------------------------------------------
# Workloads.  Each takes a socket path and its bounds and returns a Measurement.


def sequential(path: str, seconds: float, max_count: int, warmup: int,
               request: bytes = QUERY_STATUS) -> Measurement:
    """One request at a time on one connection: rate and latency."""
    client = connected(path)
    try:
        for _ in range(warmup):
            client.roundtrip(request)
        measurement = _timed_roundtrips(client, request, seconds, max_count)
        measurement.extra["request_bytes"] = len(request)
        return measurement
    finally:
        client.close()


def _timed_roundtrips(client: LineClient, request: bytes, seconds: float,
                      max_count: int) -> Measurement:
    roundtrip = client.roundtrip
    clock = time.perf_counter_ns
    latencies: list[int] = []
    record = latencies.append
    start = clock()
    end_by = start + int(seconds * 1e9)
    count = 0
    while count < max_count:
        before = clock()
        roundtrip(request)
        after = clock()
        record(after - before)
        count += 1
        if after >= end_by:
            break
    return Measurement(count, (clock() - start) / 1e9, latencies)


def pipelined(path: str, seconds: float, max_count: int, batch: int,
              check_ids: bool = True) -> Measurement:
    """Batches of `batch` requests with ids written at once (by a thread), replies read as they
    come; the rate is requests over the time from first byte sent to last reply read."""
    requests = b"".join(b'{"execute":"query-status","id":%d}\n' % index
                        for index in range(batch))
    client = connected(path)
    try:
        count = 0
        elapsed_ns = 0
        batch_ns: list[int] = []
        while count < max_count and elapsed_ns < seconds * 1e9:
            chunks, took = _one_batch(client, requests, batch)
            _check_batch(b"".join(chunks), batch, check_ids)
            batch_ns.append(took)
            elapsed_ns += took
            count += batch
        measurement = Measurement(count, elapsed_ns / 1e9)
        measurement.extra["batch"] = batch
        measurement.extra["request_bytes"] = len(requests) / batch
        measurement.extra["batch_p50_ms"] = percentile(sorted(batch_ns), 0.5) / 1e6
        return measurement
    finally:
        client.close()


def _one_batch(client: LineClient, requests: bytes, batch: int) -> tuple[list[bytes], int]:
    sock = client.sock
    failure: list[BaseException] = []

    def send() -> None:
        try:
            sock.sendall(requests)
        except BaseException as error:   # surfaced by the reader below
            failure.append(error)

    chunks: list[bytes] = []
    lines = 0
    start = time.perf_counter_ns()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        while lines < batch:
            chunk = sock.recv(RECV_BYTES)
            if not chunk:
                raise BenchmarkError("the server closed the connection")
            chunks.append(chunk)
            lines += chunk.count(b"\n")
    finally:
        sender.join(SOCKET_TIMEOUT_SECONDS)
    took = time.perf_counter_ns() - start
    if failure:
        raise BenchmarkError(f"sending the batch failed: {failure[0]!r}")
    if lines != batch:
        raise BenchmarkError(f"{lines} lines for {batch} requests")
    return chunks, took


def _check_batch(data: bytes, batch: int, check_ids: bool) -> None:
    lines = data.split(b"\n")[:-1]
    if any(not line.startswith(RETURN_PREFIX) for line in lines):
        _check_messages(data)     # raises with the offending line
        raise BenchmarkError("an event in the middle of a pipelined batch")
    if check_ids:
        ids = [json.loads(line).get("id") for line in (lines[0], lines[-1])]
        if ids != [0, batch - 1]:
            raise BenchmarkError(f"replies out of order: first and last ids {ids}")


def schema(path: str, seconds: float, max_count: int, warmup: int) -> Measurement:
    """query-qmp-schema one after another: replies of ~200 KB read into one buffer."""
    client = connected(path)
    try:
        first = client.call(QUERY_SCHEMA)
        entries = json.loads(first)["return"]
        size = len(first)
        sock = client.sock
        buffer = bytearray(max(SCHEMA_BUFFER_BYTES, 2 * size))
        view = memoryview(buffer)

        def one() -> None:
            sock.sendall(QUERY_SCHEMA)
            received = 0
            while True:
                got = sock.recv_into(view[received:])
                if not got:
                    raise BenchmarkError("the server closed the connection")
                received += got
                if buffer[received - 1] == 0x0A:
                    break
            if received != size or not buffer.startswith(RETURN_PREFIX):
                raise BenchmarkError(f"schema reply of {received} bytes, the first had {size}")

        for _ in range(warmup):
            one()
        clock = time.perf_counter_ns
        latencies: list[int] = []
        start = clock()
        end_by = start + int(seconds * 1e9)
        while len(latencies) < max_count:
            before = clock()
            one()
            after = clock()
            latencies.append(after - before)
            if after >= end_by:
                break
        measurement = Measurement(len(latencies), (clock() - start) / 1e9, latencies)
        measurement.extra["reply_bytes"] = size
        measurement.extra["entries"] = len(entries)
        measurement.extra["mb_per_s"] = size * measurement.summary()["rate"] / 1e6
        return measurement
    finally:
        client.close()


def connect_cycles(path: str, seconds: float, max_count: int, warmup: int) -> Measurement:
    """Connect, read the greeting, negotiate, one query-status, close — one after another."""

    def one() -> None:
        client = LineClient(path)
        try:
            client.negotiate()
            client.roundtrip(QUERY_STATUS)
        finally:
            client.close()

    for _ in range(warmup):
        one()
    clock = time.perf_counter_ns
    latencies: list[int] = []
    start = clock()
    end_by = start + int(seconds * 1e9)
    while len(latencies) < max_count:
        before = clock()
        one()
        after = clock()
        latencies.append(after - before)
        if after >= end_by:
            break
    return Measurement(len(latencies), (clock() - start) / 1e9, latencies)


# ---------------------------------------------------------------------------------------------
# Concurrent connections: one worker per connection, threads or processes.


def _concurrent_worker(path: str, seconds: float, max_count: int, warmup: int,
                       start: Any, report: Callable[[Any], None]) -> None:
    try:
        client = connected(path)
        try:
            for _ in range(warmup):
                client.roundtrip(QUERY_STATUS)
            start.wait(SOCKET_TIMEOUT_SECONDS)
            begin = time.monotonic_ns()
            measurement = _timed_roundtrips(client, QUERY_STATUS, seconds, max_count)
            report(("ok", begin, time.monotonic_ns(), measurement.count,
                    measurement.latencies_ns))
        finally:
            client.close()
    except BaseException as error:
        report(("error", repr(error)))
        with contextlib.suppress(Exception):
            start.abort()      # release the others at once instead of at their timeout


def concurrent(paths: list[str], seconds: float, max_count: int, warmup: int,
               mode: str) -> Measurement:
    """Sequential query-status on each of `paths` at once; the aggregate rate counts every
    reply over the span from the first worker's start to the last one's end."""
    workers = len(paths)
    results: list[Any] = []
    if mode == "threads":
        start: Any = threading.Barrier(workers)
        threads = [threading.Thread(target=_concurrent_worker, daemon=True,
                                    args=(path, seconds, max_count, warmup, start,
                                          results.append)) for path in paths]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 3 * SOCKET_TIMEOUT_SECONDS)
    elif mode == "processes":
        context = multiprocessing.get_context("fork")
        start = context.Barrier(workers)
        queue = context.SimpleQueue()
        processes = [context.Process(target=_concurrent_worker, daemon=True,
                                     args=(path, seconds, max_count, warmup, start, queue.put))
                     for path in paths]
        for process in processes:
            process.start()
        # Drain before joining: a child blocks on a full pipe until its result is read.
        deadline = time.monotonic() + seconds + 3 * SOCKET_TIMEOUT_SECONDS
        while len(results) < workers and time.monotonic() < deadline:
            if queue.empty():
                time.sleep(0.01)
                continue
            results.append(queue.get())
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()      # by PID: only our own children
                process.join(SOCKET_TIMEOUT_SECONDS)
    else:
        raise ValueError(f"unknown client mode {mode!r}")
    errors = [result[1] for result in results if result[0] == "error"]
    if errors or len(results) != workers:
        raise BenchmarkError(f"{len(results)} of {workers} workers reported; errors: {errors}")
    begin = min(result[1] for result in results)
    end = max(result[2] for result in results)
    latencies = [latency for result in results for latency in result[4]]
    measurement = Measurement(sum(result[3] for result in results), (end - begin) / 1e9,
                              latencies)
    measurement.extra["connections"] = workers
    measurement.extra["client_mode"] = mode
    measurement.extra["per_connection_rate"] = sorted(
        round(result[3] / ((result[2] - result[1]) / 1e9)) for result in results)
    return measurement
