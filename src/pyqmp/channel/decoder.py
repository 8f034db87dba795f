"""A sans-IO decoder for the guest channel: bytes in, checked frames out.

Whatever comes over the channel is untrusted (the guest may be hostile), so the decoder
checks everything and never raises on input: a frame that breaks a rule is dropped and
counted, bytes that are not a frame are skipped by scanning for the next magic.  Memory
stays bounded (the buffer never holds more than ``max_buffer`` bytes, and between calls
never more than one incomplete frame) and the work per byte is constant, whatever is fed.
The result never depends on how the stream was split into ``feed`` calls.
"""

from __future__ import annotations

from .frames import (
    HEADER,
    HEADER_SIZE,
    KNOWN_TYPES,
    MAGIC_BYTES,
    MAX_FRAME,
    MAX_PAYLOAD,
    ChannelError,
    Frame,
    payload_size_ok,
)

DEFAULT_MAX_BUFFER = 64 * 1024

# Why a frame was dropped.  The first three make the header itself untrustworthy: the
# decoder skips the magic and resynchronises.  The last two leave the framing intact:
# the decoder skips the whole frame.
DROP_FLAGS = "flags"  # flags byte not 0
DROP_UNKNOWN_TYPE = "unknown-type"  # no frame type has that number
DROP_LENGTH = "length"  # payload length over MAX_PAYLOAD
DROP_UNACCEPTED_TYPE = "unaccepted-type"  # a real type, but not one this side receives
DROP_PAYLOAD_SIZE = "payload-size"  # payload length wrong for the type
DROP_REASONS = (
    DROP_FLAGS,
    DROP_UNKNOWN_TYPE,
    DROP_LENGTH,
    DROP_UNACCEPTED_TYPE,
    DROP_PAYLOAD_SIZE,
)

_MAGIC_LOW, _MAGIC_HIGH = MAGIC_BYTES


class FrameDecoder:
    """Turns a byte stream into :class:`Frame` s of ``accepted_types``.

    Counters: ``frames_ok`` (frames returned), ``dropped`` (frames refused, by reason in
    ``drop_reasons``), ``bad_magic`` (times the stream lost sync: a frame was expected
    and something else was there), ``discarded_bytes`` (bytes skipped while resyncing).
    """

    def __init__(
        self, accepted_types: frozenset[int], max_buffer: int = DEFAULT_MAX_BUFFER
    ) -> None:
        unknown = set(accepted_types) - KNOWN_TYPES
        if unknown:
            raise ChannelError(f"unknown frame types {sorted(unknown)}")
        if max_buffer < MAX_FRAME:
            raise ChannelError(f"max_buffer must hold a whole frame ({MAX_FRAME} bytes)")
        self.accepted_types = frozenset(accepted_types)
        self.max_buffer = max_buffer
        self.frames_ok = 0
        self.dropped = 0
        self.drop_reasons: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self.bad_magic = 0
        self.discarded_bytes = 0
        self._buffer = bytearray()
        self._in_sync = True  # the next byte should start a frame

    @property
    def buffered(self) -> int:
        """Bytes held back: the start of a frame still incomplete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Decode ``data`` (following what was fed before); return the complete frames."""
        frames: list[Frame] = []
        view = memoryview(data)
        offset = 0
        # Take the input in pieces that fit the buffer: after each piece is parsed, what
        # remains is less than one frame, so the buffer never goes over max_buffer.
        while offset < len(view):
            room = self.max_buffer - len(self._buffer)
            self._buffer += view[offset : offset + room]
            offset += room
            self._parse(frames)
        return frames

    def _drop(self, reason: str) -> None:
        self.dropped += 1
        self.drop_reasons[reason] += 1

    def _parse(self, frames: list[Frame]) -> None:
        buffer = self._buffer
        end = len(buffer)
        pos = 0
        while pos < end:
            if buffer[pos] != _MAGIC_LOW or (pos + 1 < end and buffer[pos + 1] != _MAGIC_HIGH):
                if self._in_sync:
                    self.bad_magic += 1
                    self._in_sync = False
                found = buffer.find(MAGIC_BYTES, pos + 1)
                if found < 0:
                    # A last byte equal to the magic's first may be half of the next one.
                    found = end - 1 if buffer[end - 1] == _MAGIC_LOW else end
                self.discarded_bytes += found - pos
                pos = found
                continue
            if end - pos < HEADER_SIZE:
                break
            _, frame_type, flags, length = HEADER.unpack_from(buffer, pos)
            reason = None
            if flags:
                reason = DROP_FLAGS
            elif frame_type not in KNOWN_TYPES:
                reason = DROP_UNKNOWN_TYPE
            elif length > MAX_PAYLOAD:
                reason = DROP_LENGTH
            if reason is not None:
                # The header cannot be trusted, nor its length: skip just the magic and
                # look for a frame from there (a real one may start inside this header).
                self._drop(reason)
                self._in_sync = False
                self.discarded_bytes += len(MAGIC_BYTES)
                pos += len(MAGIC_BYTES)
                continue
            frame_end = pos + HEADER_SIZE + length
            if frame_end > end:
                break
            self._in_sync = True
            if frame_type not in self.accepted_types:
                self._drop(DROP_UNACCEPTED_TYPE)
            elif not payload_size_ok(frame_type, length):
                self._drop(DROP_PAYLOAD_SIZE)
            else:
                self.frames_ok += 1
                frames.append(Frame(frame_type, bytes(buffer[pos + HEADER_SIZE : frame_end])))
            pos = frame_end
        del buffer[:pos]
