"""The frame format byte for byte: encoders, payload decoders, and the limits they keep."""

from __future__ import annotations

import struct

import pytest

from pyqmp import channel
from pyqmp.channel import (
    ChannelError,
    StatTag,
    decode_fault,
    decode_stats,
    decode_u64,
    encode_actual,
    encode_frame,
    encode_powerdown,
    encode_ready,
    encode_set_fault,
    encode_set_target,
    encode_stats,
    encode_stats_request,
)


def test_type_numbers_and_constants() -> None:
    assert (channel.SET_TARGET, channel.STATS_REQUEST, channel.POWERDOWN, channel.SET_FAULT) == (
        1,
        2,
        3,
        4,
    )
    assert (channel.READY, channel.ACTUAL, channel.STATS) == (16, 17, 18)
    assert channel.MAGIC == 0xB10C
    assert channel.MAGIC_BYTES == b"\x0c\xb1"
    assert channel.HEADER_SIZE == 8
    assert channel.MAX_PAYLOAD == 1024
    assert sorted(channel.HOST_TO_GUEST_TYPES) == [1, 2, 3, 4]
    assert sorted(channel.GUEST_TO_HOST_TYPES) == [16, 17, 18]


def test_fault_modes() -> None:
    assert channel.FAULT_MODES == {
        "none": 0,
        "hang": 1,
        "crash": 2,
        "garbage": 3,
        "flood": 4,
        "lie": 5,
        "slow": 6,
    }
    assert channel.FAULT_NAMES[6] == "slow"


def test_stat_tags_are_virtio_tags() -> None:
    assert [int(tag) for tag in StatTag] == list(range(10))
    assert int(StatTag.FREE_MEMORY) == 4
    assert int(StatTag.HUGETLB_FAILURES) == 9
    assert channel.STAT_QEMU_NAMES[StatTag.TOTAL_MEMORY] == "stat-total-memory"
    assert len(channel.STAT_QEMU_NAMES) == len(StatTag)


def test_encoders_byte_exact() -> None:
    assert encode_set_target(0x0102030405060708) == (
        b"\x0c\xb1\x01\x00\x08\x00\x00\x00\x08\x07\x06\x05\x04\x03\x02\x01"
    )
    assert encode_stats_request() == b"\x0c\xb1\x02\x00\x00\x00\x00\x00"
    assert encode_powerdown() == b"\x0c\xb1\x03\x00\x00\x00\x00\x00"
    assert encode_set_fault(5) == b"\x0c\xb1\x04\x00\x01\x00\x00\x00\x05"
    assert encode_ready(65536) == b"\x0c\xb1\x10\x00\x08\x00\x00\x00" + struct.pack("<Q", 65536)
    assert encode_actual(2**64 - 1) == b"\x0c\xb1\x11\x00\x08\x00\x00\x00" + b"\xff" * 8
    assert encode_stats([(4, 1), (0xFFFF, 2**64 - 1)]) == (
        b"\x0c\xb1\x12\x00\x14\x00\x00\x00"
        + b"\x04\x00\x01\x00\x00\x00\x00\x00\x00\x00"
        + b"\xff\xff"
        + b"\xff" * 8
    )
    assert encode_stats([]) == b"\x0c\xb1\x12\x00\x00\x00\x00\x00"


@pytest.mark.parametrize(
    "call",
    [
        lambda: encode_set_target(-1),
        lambda: encode_set_target(2**64),
        lambda: encode_ready(2**64),
        lambda: encode_actual(-5),
        lambda: encode_set_fault(256),
        lambda: encode_set_fault(-1),
        lambda: encode_stats([(0, 0)] * 17),
        lambda: encode_stats([(65536, 0)]),
        lambda: encode_stats([(0, 2**64)]),
        lambda: encode_stats([(-1, 0)]),
        lambda: encode_frame(5),
        lambda: encode_frame(channel.SET_TARGET, b"\x00" * 7),
        lambda: encode_frame(channel.POWERDOWN, b"\x00"),
        lambda: encode_frame(channel.STATS, b"\x00" * 170),
    ],
)
def test_encoders_refuse_what_a_decoder_would_drop(call: object) -> None:
    assert callable(call)
    with pytest.raises(ChannelError):
        call()


def test_channel_error_is_a_value_error() -> None:
    assert issubclass(ChannelError, ValueError)


def test_sixteen_stats_entries_fit() -> None:
    frame = encode_stats([(tag, tag * 1000) for tag in range(16)])
    assert len(frame) == 8 + 160
    assert decode_stats(frame[8:]) == [(tag, tag * 1000) for tag in range(16)]


def test_payload_decoders() -> None:
    assert decode_u64(encode_actual(12345)[8:]) == 12345
    assert decode_u64(b"\xff" * 8) == 2**64 - 1
    assert decode_fault(b"\x03") == 3
    assert decode_stats(b"") == []
    assert decode_stats(encode_stats([(9, 7), (0, 0)])[8:]) == [(9, 7), (0, 0)]


@pytest.mark.parametrize(
    ("decoder", "payload"),
    [
        (decode_u64, b""),
        (decode_u64, b"\x00" * 9),
        (decode_fault, b""),
        (decode_fault, b"\x00\x00"),
        (decode_stats, b"\x00" * 9),
        (decode_stats, b"\x00" * 170),
    ],
)
def test_payload_decoders_check_sizes(decoder: object, payload: bytes) -> None:
    assert callable(decoder)
    with pytest.raises(ChannelError, match="expected"):
        decoder(payload)


def test_payload_size_rules() -> None:
    ok = channel.payload_size_ok
    for frame_type in (channel.SET_TARGET, channel.READY, channel.ACTUAL):
        assert ok(frame_type, 8)
        assert not ok(frame_type, 0)
        assert not ok(frame_type, 16)
    assert ok(channel.SET_FAULT, 1)
    assert not ok(channel.SET_FAULT, 8)
    for length in range(0, 161, 10):
        assert ok(channel.STATS, length)
    assert not ok(channel.STATS, 170)
    assert not ok(channel.STATS, 15)
    for frame_type in (channel.STATS_REQUEST, channel.POWERDOWN):
        assert ok(frame_type, 0)
        assert not ok(frame_type, 1)


def test_channel_imports_nothing_of_pyqmp() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pyqmp.channel; "
        "print(sorted(m for m in sys.modules if m.startswith('pyqmp') "
        "and not m.startswith('pyqmp.channel')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "['pyqmp']"
