"""Fuzz target for the guest channel decoder: any bytes, as what a guest (or host) sends.

Run it with atheris (``pip install atheris``)::

    python tests/fuzz/fuzz_balloon_channel.py [CORPUS_DIR ...] [libFuzzer options]

Each input is decoded by :class:`pyqmp.channel.FrameDecoder` as the host (accepting the
guest's frames) and as the guest (accepting the host's): whole, in chunks of 1, 7 and
1000 bytes, in pieces whose sizes come from the input itself, and with the smallest
buffer allowed.  Frames and every counter must not depend on the chunking; the buffer
must stay under one frame between calls; every frame must pass its payload decoder and
re-encode to the same bytes.  Without atheris the script runs the files named on the
command line once each (to reproduce a crash), or else the seed corpus.

``tests/channel/test_channel_fuzz_smoke.py`` runs :func:`check_one_input` under pytest.
"""

from __future__ import annotations

import os
import struct
import sys


def _frame(
    frame_type: int, payload: bytes = b"", flags: int = 0, length: int | None = None
) -> bytes:
    size = len(payload) if length is None else length
    return struct.pack("<HBBI", 0xB10C, frame_type, flags, size) + payload


_Q = struct.Struct("<Q").pack
_STATS = b"".join(struct.pack("<HQ", tag, tag * 4096) for tag in range(10))

SEED_CORPUS: list[bytes] = [
    b"",
    _frame(16, _Q(65536)) + _frame(17, _Q(0)),
    _frame(18, _STATS),
    _frame(18, _STATS + _STATS[:60]),
    _frame(1, _Q(32768)) + _frame(2) + _frame(3) + _frame(4, b"\x05"),
    b"\x0c\xb1" * 300,
    b"\x0c" * 50 + _frame(17, _Q(1)),
    b"garbage" + _frame(17, _Q(2)) + b"\xb1\x0c" + _frame(17, _Q(3)),
    _frame(17, _Q(1), flags=1) + _frame(17, _Q(4)),
    _frame(9) + _frame(0, _Q(1)) + _frame(255),
    _frame(18, length=0xFFFFFFFF) + _frame(17, _Q(5)),
    _frame(18, length=1025) + _frame(17, _Q(6)),
    _frame(18, bytes(1024)) + _frame(17, _Q(7)),
    _frame(17, bytes(7)) + _frame(17, bytes(9)) + _frame(16) + _frame(2, b"x"),
    b"\x0c\xb1" + _frame(17, _Q(8)),
    b"\x0c\xb1\x11\x00\x08\x00\x00" + _frame(17, _Q(9)),
    bytes(range(256)) * 8,
    b"\xff" * 3000 + _frame(18, _STATS),
    _frame(17, _Q(2**64 - 1)) * 100,
]


def _chunk_sizes(data: bytes) -> list[int]:
    # Piece sizes taken from the input, so the fuzzer explores splits too.
    return [1 + byte % 61 for byte in data[:64]] or [1]


def _decode(
    data: bytes, accepted: frozenset[int], sizes: list[int], max_buffer: int
) -> tuple[list[object], tuple[object, ...]]:
    from pyqmp.channel import MAX_FRAME, FrameDecoder

    decoder = FrameDecoder(accepted, max_buffer)
    frames: list[object] = []
    position = 0
    turn = 0
    while position < len(data):
        size = sizes[turn % len(sizes)]
        frames += decoder.feed(data[position : position + size])
        assert decoder.buffered < MAX_FRAME
        position += size
        turn += 1
    state = (
        decoder.frames_ok,
        decoder.dropped,
        tuple(sorted(decoder.drop_reasons.items())),
        decoder.bad_magic,
        decoder.discarded_bytes,
        decoder.buffered,
    )
    return frames, state


def check_one_input(data: bytes) -> int:
    """Run ``data`` through every check; return how many frames the host side decoded.

    Raises AssertionError on any disagreement; any other exception is a crash.
    """
    from pyqmp.channel import (
        GUEST_TO_HOST_TYPES,
        HOST_TO_GUEST_TYPES,
        MAX_FRAME,
        SET_FAULT,
        STATS,
        Frame,
        FrameDecoder,
        decode_fault,
        decode_stats,
        decode_u64,
        encode_frame,
        payload_size_ok,
    )

    host_frames = 0
    for accepted in (GUEST_TO_HOST_TYPES, HOST_TO_GUEST_TYPES):
        decoder = FrameDecoder(accepted)
        whole = list(decoder.feed(data))
        expected_state = _decode(data, accepted, [len(data) or 1], 64 * 1024)[1]
        for sizes, max_buffer in (
            ([1], MAX_FRAME),
            ([7], 64 * 1024),
            ([1000], MAX_FRAME),
            (_chunk_sizes(data), MAX_FRAME),
        ):
            frames, state = _decode(data, accepted, sizes, max_buffer)
            assert frames == whole, sizes
            assert state == expected_state, sizes
        for frame in whole:
            assert isinstance(frame, Frame)
            assert frame.type in accepted
            assert payload_size_ok(frame.type, len(frame.payload))
            if frame.type == STATS:
                assert len(decode_stats(frame.payload)) <= 16
            elif frame.type == SET_FAULT:
                assert 0 <= decode_fault(frame.payload) <= 255
            elif frame.payload:
                assert 0 <= decode_u64(frame.payload) < 2**64
            again = FrameDecoder(accepted).feed(encode_frame(frame.type, frame.payload))
            assert again == [frame]
        if accepted is GUEST_TO_HOST_TYPES:
            host_frames = len(whole)
    return host_frames


def main(argv: list[str]) -> int:
    from fuzz_runner import run_fuzz_target

    return run_fuzz_target(
        argv, check_one_input, "pyqmp.channel", SEED_CORPUS, lambda count: f"{count} frames"
    )


if __name__ == "__main__":
    try:
        import pyqmp  # noqa: F401
    except ImportError:  # run from a checkout without installing: use its src/
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    raise SystemExit(main(sys.argv))
