"""The guest channel's frames: constants, encoders and payload decoders.

A frame is an 8-byte little-endian header (magic u16 0xB10C, type u8, flags u8 that must
be 0, payload length u32) followed by the payload.  The types mirror virtio-balloon's
queues: the host sets the target (num_pages) and asks for statistics, the guest says its
driver is up, how many pages the balloon holds, and sends statistics as (tag, value)
pairs with virtio's tags.  Every limit of the format lives here.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from enum import IntEnum
from typing import Final, NamedTuple

MAGIC = 0xB10C
HEADER = struct.Struct("<HBBI")
HEADER_SIZE = HEADER.size  # 8
MAGIC_BYTES = struct.pack("<H", MAGIC)  # b"\x0c\xb1": what resynchronisation scans for
MAX_PAYLOAD = 1024
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD

PAGE_SIZE = 4096  # virtio-balloon counts 4 KiB pages, whatever the guest's page size
U64_MAX = 2**64 - 1

_U64 = struct.Struct("<Q")
_U8 = struct.Struct("<B")
STAT_ENTRY = struct.Struct("<HQ")
STAT_ENTRY_SIZE = STAT_ENTRY.size  # 10
MAX_STATS_ENTRIES = 16
MAX_STATS_PAYLOAD = MAX_STATS_ENTRIES * STAT_ENTRY_SIZE  # 160

# The channel's numbered things are IntEnums, one style for all three: frame types,
# fault mode codes and (below) virtio's statistic tags.


class FrameType(IntEnum):
    """The type byte of a frame."""

    # Host → guest
    SET_TARGET = 1  # u64: pages the balloon should hold (virtio's num_pages)
    STATS_REQUEST = 2  # empty: please send statistics (virtio hands back the stats buffer)
    POWERDOWN = 3  # empty: the ACPI power button
    SET_FAULT = 4  # u8: a fault mode code, 0 = healthy
    # Guest → host
    READY = 16  # u64: guest RAM in pages; the driver is up (feature negotiation done)
    ACTUAL = 17  # u64: pages currently in the balloon
    STATS = 18  # 0..16 entries of (u16 tag, u64 value)


# The short names the code uses (channel.READY, not channel.FrameType.READY).
SET_TARGET: Final = FrameType.SET_TARGET
STATS_REQUEST: Final = FrameType.STATS_REQUEST
POWERDOWN: Final = FrameType.POWERDOWN
SET_FAULT: Final = FrameType.SET_FAULT
READY: Final = FrameType.READY
ACTUAL: Final = FrameType.ACTUAL
STATS: Final = FrameType.STATS

HOST_TO_GUEST_TYPES = frozenset({SET_TARGET, STATS_REQUEST, POWERDOWN, SET_FAULT})
GUEST_TO_HOST_TYPES = frozenset({READY, ACTUAL, STATS})
KNOWN_TYPES = frozenset(FrameType)
TYPE_NAMES: dict[int, str] = {kind: kind.name for kind in FrameType}


class FaultCode(IntEnum):
    """The guest's fault modes on the wire (SET_FAULT's payload, ``--fault``'s names)."""

    NONE = 0
    HANG = 1
    CRASH = 2
    GARBAGE = 3
    FLOOD = 4
    LIE = 5
    SLOW = 6


FAULT_MODES: dict[str, int] = {code.name.lower(): code for code in FaultCode}
FAULT_NAMES: dict[int, str] = {code: name for name, code in FAULT_MODES.items()}


class StatTag(IntEnum):
    """virtio-balloon's statistic tags (VIRTIO_BALLOON_S_*); memory values are in bytes."""

    SWAP_IN = 0
    SWAP_OUT = 1
    MAJOR_FAULTS = 2
    MINOR_FAULTS = 3
    FREE_MEMORY = 4
    TOTAL_MEMORY = 5
    AVAILABLE_MEMORY = 6
    DISK_CACHES = 7
    HUGETLB_ALLOCATIONS = 8
    HUGETLB_FAILURES = 9


# The names QEMU gives the tags in ``guest-stats``, indexed by tag.
STAT_QEMU_NAMES: tuple[str, ...] = (
    "stat-swap-in",
    "stat-swap-out",
    "stat-major-faults",
    "stat-minor-faults",
    "stat-free-memory",
    "stat-total-memory",
    "stat-available-memory",
    "stat-disk-caches",
    "stat-htlb-pgalloc",
    "stat-htlb-pgfail",
)


class ChannelError(ValueError):
    """A value that does not fit the channel format (what was expected is in the message)."""


class Frame(NamedTuple):
    """One decoded frame: its type and its payload, already checked against the type."""

    type: int
    payload: bytes


def payload_size_ok(frame_type: int, length: int) -> bool:
    """Whether ``length`` is a legal payload length for a frame of ``frame_type``."""
    if frame_type in (SET_TARGET, READY, ACTUAL):
        return length == _U64.size
    if frame_type == SET_FAULT:
        return length == _U8.size
    if frame_type == STATS:
        return length % STAT_ENTRY_SIZE == 0 and length <= MAX_STATS_PAYLOAD
    return length == 0


def encode_frame(frame_type: int, payload: bytes = b"") -> bytes:
    """A whole frame; refuses anything a conforming decoder would drop."""
    if frame_type not in KNOWN_TYPES:
        raise ChannelError(f"unknown frame type {frame_type}")
    if not payload_size_ok(frame_type, len(payload)):
        raise ChannelError(
            f"{TYPE_NAMES[frame_type]} payload of {len(payload)} bytes has the wrong size"
        )
    return HEADER.pack(MAGIC, frame_type, 0, len(payload)) + payload


def _u64(value: int, what: str) -> bytes:
    if not 0 <= value <= U64_MAX:
        raise ChannelError(f"{what} must be an unsigned 64-bit integer, got {value}")
    return _U64.pack(value)


def encode_set_target(pages: int) -> bytes:
    return encode_frame(SET_TARGET, _u64(pages, "SET_TARGET pages"))


def encode_stats_request() -> bytes:
    return encode_frame(STATS_REQUEST)


def encode_powerdown() -> bytes:
    return encode_frame(POWERDOWN)


def encode_set_fault(code: int) -> bytes:
    if not 0 <= code <= 0xFF:
        raise ChannelError(f"fault mode code must be a byte, got {code}")
    return encode_frame(SET_FAULT, _U8.pack(code))


def encode_ready(pages: int) -> bytes:
    return encode_frame(READY, _u64(pages, "READY pages"))


def encode_actual(pages: int) -> bytes:
    return encode_frame(ACTUAL, _u64(pages, "ACTUAL pages"))


def encode_stats(entries: Sequence[tuple[int, int]]) -> bytes:
    if len(entries) > MAX_STATS_ENTRIES:
        raise ChannelError(f"at most {MAX_STATS_ENTRIES} stats entries, got {len(entries)}")
    parts = []
    for tag, value in entries:
        if not 0 <= tag <= 0xFFFF:
            raise ChannelError(f"stats tag must be an unsigned 16-bit integer, got {tag}")
        if not 0 <= value <= U64_MAX:
            raise ChannelError(f"stats value must be an unsigned 64-bit integer, got {value}")
        parts.append(STAT_ENTRY.pack(tag, value))
    return encode_frame(STATS, b"".join(parts))


def decode_u64(payload: bytes) -> int:
    """The value of a SET_TARGET, READY or ACTUAL payload."""
    if len(payload) != _U64.size:
        raise ChannelError(f"expected an 8-byte payload, got {len(payload)} bytes")
    value: int = _U64.unpack(payload)[0]
    return value


def decode_fault(payload: bytes) -> int:
    """The fault mode code of a SET_FAULT payload (it may be one no mode has)."""
    if len(payload) != _U8.size:
        raise ChannelError(f"expected a 1-byte payload, got {len(payload)} bytes")
    return payload[0]


def decode_stats(payload: bytes) -> list[tuple[int, int]]:
    """The (tag, value) entries of a STATS payload, in the order sent; tags unchecked."""
    if len(payload) % STAT_ENTRY_SIZE or len(payload) > MAX_STATS_PAYLOAD:
        raise ChannelError(
            f"expected a multiple of {STAT_ENTRY_SIZE} bytes up to {MAX_STATS_PAYLOAD}, "
            f"got {len(payload)} bytes"
        )
    return [(tag, value) for tag, value in STAT_ENTRY.iter_unpack(payload)]
