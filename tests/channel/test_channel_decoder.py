"""FrameDecoder on hand-made streams: every drop reason, resynchronisation, and bounds."""

from __future__ import annotations

import struct
import tracemalloc

import pytest

from pyqmp.channel import (
    ACTUAL,
    GUEST_TO_HOST_TYPES,
    HOST_TO_GUEST_TYPES,
    MAX_FRAME,
    POWERDOWN,
    READY,
    SET_FAULT,
    SET_TARGET,
    STATS,
    STATS_REQUEST,
    ChannelError,
    Frame,
    FrameDecoder,
    encode_actual,
    encode_powerdown,
    encode_ready,
    encode_set_fault,
    encode_set_target,
    encode_stats,
    encode_stats_request,
)


def header(frame_type: int, length: int, flags: int = 0, magic: int = 0xB10C) -> bytes:
    return struct.pack("<HBBI", magic, frame_type, flags, length)


def host_decoder() -> FrameDecoder:
    """What the machine runs: it accepts the guest's frames."""
    return FrameDecoder(GUEST_TO_HOST_TYPES)


def test_every_guest_frame_decodes() -> None:
    decoder = host_decoder()
    stream = encode_ready(65536) + encode_actual(7) + encode_stats([(5, 1 << 30)])
    assert decoder.feed(stream) == [
        Frame(READY, struct.pack("<Q", 65536)),
        Frame(ACTUAL, struct.pack("<Q", 7)),
        Frame(STATS, struct.pack("<HQ", 5, 1 << 30)),
    ]
    assert decoder.frames_ok == 3
    assert decoder.dropped == 0
    assert decoder.bad_magic == 0
    assert decoder.buffered == 0


def test_every_host_frame_decodes() -> None:
    decoder = FrameDecoder(HOST_TO_GUEST_TYPES)
    stream = (
        encode_set_target(1) + encode_stats_request() + encode_powerdown() + encode_set_fault(4)
    )
    assert [frame.type for frame in decoder.feed(stream)] == [
        SET_TARGET,
        STATS_REQUEST,
        POWERDOWN,
        SET_FAULT,
    ]


def test_byte_at_a_time() -> None:
    decoder = host_decoder()
    frames: list[Frame] = []
    for byte in encode_actual(3) + encode_actual(4):
        frames += decoder.feed(bytes([byte]))
        assert decoder.buffered < MAX_FRAME
    assert frames == [Frame(ACTUAL, struct.pack("<Q", n)) for n in (3, 4)]


def test_incomplete_frame_waits() -> None:
    decoder = host_decoder()
    frame = encode_stats([(0, 1)] * 16)
    assert decoder.feed(frame[:-1]) == []
    assert decoder.buffered == len(frame) - 1
    assert decoder.feed(frame[-1:]) == [Frame(STATS, frame[8:])]
    assert decoder.buffered == 0


def test_empty_feed() -> None:
    decoder = host_decoder()
    assert decoder.feed(b"") == []
    assert decoder.buffered == 0


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (header(ACTUAL, 8, flags=1) + bytes(8), "flags"),
        (header(ACTUAL, 8, flags=0x80) + bytes(8), "flags"),
        (header(5, 0), "unknown-type"),
        (header(0, 8) + bytes(8), "unknown-type"),
        (header(255, 0), "unknown-type"),
        (header(STATS, 1025), "length"),
        (header(STATS, 0xFFFFFFFF), "length"),
        (header(SET_TARGET, 8) + bytes(8), "unaccepted-type"),
        (encode_powerdown(), "unaccepted-type"),
        (header(ACTUAL, 7) + bytes(7), "payload-size"),
        (header(ACTUAL, 9) + bytes(9), "payload-size"),
        (header(READY, 0), "payload-size"),
        (header(STATS, 15) + bytes(15), "payload-size"),
        (header(STATS, 170) + bytes(170), "payload-size"),
        (header(STATS, 1024) + bytes(1024), "payload-size"),
    ],
)
def test_bad_frames_are_dropped_and_counted(data: bytes, reason: str) -> None:
    decoder = host_decoder()
    good = encode_actual(42)
    assert decoder.feed(data + good) == [Frame(ACTUAL, good[8:])]
    assert decoder.dropped == 1
    assert decoder.drop_reasons[reason] == 1
    assert sum(decoder.drop_reasons.values()) == 1
    assert decoder.frames_ok == 1
    assert decoder.buffered == 0


def test_drop_reasons_start_at_zero() -> None:
    assert host_decoder().drop_reasons == {
        "flags": 0,
        "unknown-type": 0,
        "length": 0,
        "unaccepted-type": 0,
        "payload-size": 0,
    }


def test_oversize_length_does_not_wait_for_the_payload() -> None:
    # A header claiming 4 GiB must not make the decoder wait for (or buffer) it.
    decoder = host_decoder()
    assert decoder.feed(header(STATS, 0xFFFFFFFF)) == []
    assert decoder.drop_reasons["length"] == 1
    assert decoder.feed(encode_actual(1)) == [Frame(ACTUAL, encode_actual(1)[8:])]


def test_garbage_is_skipped_and_counted_once_per_run() -> None:
    decoder = host_decoder()
    frames = decoder.feed(b"hello" + encode_actual(1) + b"xx" + b"yy" + encode_actual(2))
    assert [frame.payload[0] for frame in frames] == [1, 2]
    assert decoder.bad_magic == 2
    assert decoder.discarded_bytes == 9
    assert decoder.dropped == 0


def test_garbage_run_split_over_feeds_counts_once() -> None:
    decoder = host_decoder()
    for _ in range(100):
        assert decoder.feed(b"garbage!") == []
    assert decoder.bad_magic == 1
    assert decoder.discarded_bytes == 800
    assert decoder.buffered == 0


def test_half_magic_at_the_end_is_kept() -> None:
    decoder = host_decoder()
    frame = encode_actual(9)
    assert decoder.feed(b"zz" + frame[:1]) == []
    assert decoder.buffered == 1
    assert decoder.feed(frame[1:]) == [Frame(ACTUAL, frame[8:])]
    assert decoder.bad_magic == 1


def test_a_real_frame_inside_a_bad_header_is_found() -> None:
    # A false magic just before a real frame: the bad header overlaps the real one, and
    # only the false magic is skipped, so the real frame is still decoded.
    decoder = host_decoder()
    frame = encode_actual(77)
    assert decoder.feed(b"\x0c\xb1" + frame) == [Frame(ACTUAL, frame[8:])]
    assert decoder.drop_reasons["flags"] == 1  # the real magic's 0xB1 is the flags byte
    assert decoder.dropped == 1


def test_resync_after_bad_header_counts_no_extra_bad_magic() -> None:
    decoder = host_decoder()
    decoder.feed(header(ACTUAL, 8, flags=3) + b"rest of it" + encode_actual(1))
    assert decoder.dropped == 1
    assert decoder.bad_magic == 0
    assert decoder.frames_ok == 1


def test_frames_interleaved_with_everything() -> None:
    decoder = host_decoder()
    stream = (
        b"\x00" * 3
        + encode_ready(100)
        + header(9, 0)
        + encode_set_target(5)
        + header(ACTUAL, 1)
        + b"\x01"
        + b"\x0c"
        + encode_actual(50)
        + header(STATS, 5000)
        + encode_stats([(4, 4096)])
    )
    frames = decoder.feed(stream)
    assert [frame.type for frame in frames] == [READY, ACTUAL, STATS]
    assert decoder.drop_reasons == {
        "flags": 0,
        "unknown-type": 1,
        "length": 1,
        "unaccepted-type": 1,
        "payload-size": 1,
    }


def test_max_buffer_must_hold_a_frame() -> None:
    with pytest.raises(ChannelError, match="whole frame"):
        FrameDecoder(GUEST_TO_HOST_TYPES, max_buffer=MAX_FRAME - 1)
    FrameDecoder(GUEST_TO_HOST_TYPES, max_buffer=MAX_FRAME)


def test_accepted_types_must_be_known() -> None:
    with pytest.raises(ChannelError, match="unknown frame types"):
        FrameDecoder(frozenset({ACTUAL, 99}))


def test_huge_feed_keeps_memory_bounded() -> None:
    # 8 MiB at once, garbage and frames mixed: the decoder's own memory stays within a
    # few times max_buffer however large the input (the returned frames aside).
    unit = header(STATS, 1000) + bytes(1000) + encode_actual(1)
    data = unit * (8 * 1024 * 1024 // len(unit))
    decoder = FrameDecoder(GUEST_TO_HOST_TYPES, max_buffer=MAX_FRAME)
    tracemalloc.start()
    try:
        frames = decoder.feed(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    frames_memory = len(frames) * 200
    assert peak < frames_memory + 256 * 1024
    assert len(frames) == len(data) // len(unit)
    assert decoder.buffered == 0


def test_pathological_magic_runs() -> None:
    # Every byte pair is a magic with a bad header behind it: linear work, nothing held.
    decoder = host_decoder()
    data = b"\x0c\xb1" * 500_000
    assert decoder.feed(data) == []
    assert decoder.buffered < MAX_FRAME
    decoder.feed(encode_actual(0))
    assert decoder.frames_ok == 1
