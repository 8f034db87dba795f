"""Properties of the channel decoder, for any input hypothesis can think of.

- A valid stream decodes to its frames however it is split, with nothing counted.
- Any bytes, split any way: nothing raises, the buffer stays within its bound, and the
  result (frames and every counter) does not depend on the split or on max_buffer.
- Valid frames after garbage are recovered.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from pyqmp import channel
from pyqmp.channel import (
    KNOWN_TYPES,
    MAX_FRAME,
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

u64 = st.integers(0, 2**64 - 1)
stats_entries = st.lists(st.tuples(st.integers(0, 0xFFFF), u64), max_size=16)

encoded_frames = st.one_of(
    u64.map(encode_set_target),
    st.just(encode_stats_request()),
    st.just(encode_powerdown()),
    st.integers(0, 255).map(encode_set_fault),
    u64.map(encode_ready),
    u64.map(encode_actual),
    stats_entries.map(encode_stats),
)


def as_frame(encoded: bytes) -> Frame:
    return Frame(encoded[2], encoded[8:])


def counters(decoder: FrameDecoder) -> tuple[object, ...]:
    return (
        decoder.frames_ok,
        decoder.dropped,
        dict(decoder.drop_reasons),
        decoder.bad_magic,
        decoder.discarded_bytes,
        decoder.buffered,
    )


def decode_split(
    data: bytes, cuts: list[int], max_buffer: int = 64 * 1024
) -> tuple[list[Frame], FrameDecoder]:
    decoder = FrameDecoder(KNOWN_TYPES, max_buffer)
    frames: list[Frame] = []
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    for start, end in itertools.pairwise(bounds):
        frames += decoder.feed(data[start:end])
        assert decoder.buffered < MAX_FRAME
        assert decoder.buffered <= max_buffer
    return frames, decoder


@given(st.lists(encoded_frames, max_size=40), st.lists(st.integers(0, 10**6), max_size=20))
def test_any_split_of_a_valid_stream_decodes_the_same(
    encoded: list[bytes], cuts: list[int]
) -> None:
    frames, decoder = decode_split(b"".join(encoded), cuts)
    assert frames == [as_frame(frame) for frame in encoded]
    assert decoder.frames_ok == len(encoded)
    assert decoder.dropped == 0
    assert decoder.bad_magic == 0
    assert decoder.buffered == 0


# Bytes likely to form headers: the magic, known and unknown types, small lengths.
header_parts = st.sampled_from(
    [b"\x0c\xb1", b"\x0c", b"\xb1", b"\x00", b"\x01", b"\x08\x00\x00\x00", b"\x11", b"\x12"]
)
hostile = st.lists(
    st.one_of(st.binary(max_size=64), header_parts, encoded_frames), max_size=60
).map(b"".join)


@settings(max_examples=300)
@given(
    st.one_of(st.binary(max_size=4096), hostile),
    st.lists(st.integers(0, 10**6), max_size=30),
    st.sampled_from([MAX_FRAME, MAX_FRAME + 1, 4096, 64 * 1024]),
)
def test_any_bytes_any_split_same_result_bounded(
    data: bytes, cuts: list[int], max_buffer: int
) -> None:
    whole, whole_decoder = decode_split(data, [])
    split, split_decoder = decode_split(data, cuts, max_buffer)
    assert split == whole
    assert counters(split_decoder) == counters(whole_decoder)
    for frame in whole:
        assert frame.type in KNOWN_TYPES
        assert channel.payload_size_ok(frame.type, len(frame.payload))
    # Every byte is accounted for: in a frame, skipped, dropped with a frame, or held.
    assert whole_decoder.discarded_bytes + whole_decoder.buffered <= len(data)


@given(
    st.binary(max_size=2048).filter(lambda garbage: 0x0C not in garbage),
    st.lists(encoded_frames, min_size=1, max_size=20),
    st.lists(st.integers(0, 10**6), max_size=10),
)
def test_frames_after_garbage_without_magic_all_recovered(
    garbage: bytes, encoded: list[bytes], cuts: list[int]
) -> None:
    frames, decoder = decode_split(garbage + b"".join(encoded), cuts)
    assert frames == [as_frame(frame) for frame in encoded]
    assert decoder.bad_magic == (1 if garbage else 0)
    assert decoder.discarded_bytes == len(garbage)


# Frames with no 0x0C byte after their magic: in such a stream, a magic only starts a frame.
clean_frames = encoded_frames.filter(lambda frame: 0x0C not in frame[2:])


@settings(max_examples=200)
@given(st.binary(max_size=2048), st.lists(clean_frames, min_size=1, max_size=200))
def test_frames_after_any_garbage_recovered(garbage: bytes, encoded: list[bytes]) -> None:
    # Garbage can end in a plausible header that swallows up to MAX_FRAME bytes of what
    # follows; every frame starting beyond that is recovered, in order.
    frames, _ = decode_split(garbage + b"".join(encoded), [])
    offset = 0
    first_safe = len(encoded)
    for index, frame in enumerate(encoded):
        if offset >= MAX_FRAME:
            first_safe = index
            break
        offset += len(frame)
    expected = [as_frame(frame) for frame in encoded[first_safe:]]
    assert frames[len(frames) - len(expected) :] == expected
