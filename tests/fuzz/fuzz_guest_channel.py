"""Fuzz target for the host's end of the guest channel (:mod:`pyqmp.machine.guest_channel`):
any bytes, as what a guest sends, with the host's own calls and the clock in between.

Run it with atheris (``pip install atheris``; ``tools/fuzz.sh`` runs every target)::

    python tests/fuzz/fuzz_guest_channel.py [CORPUS_DIR ...] [libFuzzer options]

The input is a script: its first byte sets the frame budget (1 to 16 frames a second), and
after it each step is one control byte and what follows.  A control byte either feeds the
next N bytes to :meth:`GuestChannel.receive_data`, or moves the clock, resumes after a
pause, asks the guest for something (target, stats, powerdown, fault), lets the socket take
some of what is to send, or starts a fresh guest.  Whatever the guest sends, the engine's
one rule must hold: every report is plausible (a balloon within the RAM, known statistics
within it), at most one frame of each type is held back, what waits to be sent is a few
frames, and the counters only grow.  The same bytes fed whole and byte by byte, with an
unlimited budget, give the same reports and counts.  Without atheris the script runs the
files named on the command line once each (to reproduce a crash), or else the seed corpus.
"""

from __future__ import annotations

import os
import struct
import sys

RAM = 64 << 20


def _frame(frame_type: int, payload: bytes = b"") -> bytes:
    return struct.pack("<HBBI", 0xB10C, frame_type, 0, len(payload)) + payload


_Q = struct.Struct("<Q").pack
_STATS = b"".join(struct.pack("<HQ", tag, 4096 * tag) for tag in range(5))


def _feed(data: bytes) -> bytes:
    # a "feed" step: control byte 0..127 feeds that many bytes
    assert len(data) < 0x80
    return bytes([len(data)]) + data


SEED_CORPUS: list[bytes] = [
    b"",
    b"\x0f" + _feed(_frame(16, _Q(16384)) + _frame(17, _Q(0)) + _frame(18, _STATS)),
    b"\x01" + _feed(_frame(17, _Q(1)) * 5) + b"\x80" + b"\x81" + _feed(_frame(17, _Q(2))),
    b"\x03" + _feed(_frame(17, _Q(2**40))) + _feed(_frame(18, _STATS[:30] + b"\xff" * 10)),
    b"\x02" + b"\x82\x83\x84\x85" + b"\x86\x01" + b"\x86\xff" + b"\x87",
    b"\x00" + _feed(b"garbage" + _frame(17, _Q(3)) + b"\x0c\xb1"),
    b"\x05" + b"\x88" + _feed(_frame(16, _Q(1))) + b"\x80" * 3 + b"\x81",
    b"\x0f" + _feed(b"\xff" * 120) + _feed(_frame(18)),
]


def check_one_input(data: bytes) -> int:
    """Run the script ``data``; return how many reports the engine gave.

    Raises AssertionError when a bound or invariant breaks; any other exception is a crash.
    """
    from pyqmp import channel
    from pyqmp.machine.balloon import MEMORY_STAT_TAGS, PAGE_SHIFT, STAT_NAMES
    from pyqmp.machine.guest_channel import Actual, GuestChannel, GuestLimits, Stats

    if not data:
        return 0
    engine = GuestChannel(RAM, GuestLimits(frames_per_second=1 + data[0] % 16, pause=1.0))
    engine.open()
    now = 0.0
    reports: list[object] = []
    fed = bytearray()
    last_counts = (0, 0)
    position = 1
    while position < len(data):
        control = data[position]
        position += 1
        step = control & 0x7F
        if control < 0x80:  # feed the next `step` bytes, as the guest sent them
            chunk = data[position : position + step]
            position += step
            fed += chunk
            if engine.is_open and not engine.reading_paused:
                reports += engine.receive_data(chunk, now)
        elif step == 0:
            now += 0.25
        elif step == 1:
            now += 1.0
            reports += engine.resume(now)
        elif step == 2:
            assert engine.set_target(len(fed)) == engine.is_open
        elif step == 3:
            assert engine.request_stats() == engine.is_open
        elif step == 4:
            assert engine.powerdown() == engine.is_open
        elif step == 5:
            engine.set_fault(len(reports) % 256)
        elif step == 6:
            take = data[position] if position < len(data) else 0
            position += 1
            waiting = engine.data_to_send()
            engine.sent(min(take, len(waiting)))
        elif step == 7:
            engine.close()
        elif step == 8:
            engine.open()
        # what waits to be sent: the frame being written and one of each of four kinds
        assert len(engine.data_to_send()) <= channel.MAX_FRAME
        assert len(engine._pending) <= 4
        assert len(engine._held) <= 3
        counts = (engine.malformed, engine.lies)
        assert counts[0] >= last_counts[0] and counts[1] >= last_counts[1]
        last_counts = counts
    for report in reports:
        if isinstance(report, Actual):
            assert report.pages >= 0 and report.pages << PAGE_SHIFT <= RAM
        else:
            assert isinstance(report, Stats)
            for tag, value in report.entries:
                assert 0 <= tag < len(STAT_NAMES)
                assert tag not in MEMORY_STAT_TAGS or value <= RAM
    _check_split_independence(bytes(fed))
    return len(reports)


def _check_split_independence(fed: bytes) -> None:
    from pyqmp.machine.guest_channel import GuestChannel, GuestLimits

    unlimited = GuestLimits(frames_per_second=1 << 30)
    whole = GuestChannel(RAM, unlimited)
    whole.open()
    expected = whole.receive_data(fed, 0.0)
    byte_by_byte = GuestChannel(RAM, unlimited)
    byte_by_byte.open()
    got = [r for i in range(len(fed)) for r in byte_by_byte.receive_data(fed[i : i + 1], 0.0)]
    assert got == expected
    assert (byte_by_byte.malformed, byte_by_byte.lies, byte_by_byte.driver_ready) == (
        whole.malformed,
        whole.lies,
        whole.driver_ready,
    )


def main(argv: list[str]) -> int:
    from fuzz_runner import run_fuzz_target

    return run_fuzz_target(
        argv, check_one_input, "pyqmp.machine", SEED_CORPUS, lambda n: f"{n} reports"
    )


if __name__ == "__main__":
    try:
        import pyqmp  # noqa: F401
    except ImportError:  # run from a checkout without installing: use its src/
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    raise SystemExit(main(sys.argv))
