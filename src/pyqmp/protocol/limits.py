"""Every limit the protocol engine enforces, in one place, with QEMU 7.2's values.

The JSON limits are those of QEMU's ``qobject/json-streamer.c`` and ``json-lexer.c``:
exceeding one makes QEMU answer an error and reset its parser while the connection goes
on; :mod:`pyqmp.protocol.framing` does the same and never buffers more than the limits
allow.  ``max_queued_requests`` is ``QMP_REQ_QUEUE_LEN_MAX`` of ``monitor/qmp.c``: how
many in-band requests a monitor with OOB enabled takes before it stops reading (without
OOB it is one, as in QEMU).
"""

from __future__ import annotations

from typing import NamedTuple


class Limits(NamedTuple):
    """Limits of one QMP connection; the defaults are QEMU 7.2's."""

    #: Bytes of one token (``MAX_TOKEN_SIZE``), and of all tokens of one message together.
    max_token_size: int = 64 << 20
    #: Tokens of one message (``MAX_TOKEN_COUNT``).
    max_token_count: int = 2 << 20
    #: Open braces and brackets at once (``MAX_NESTING``).
    max_nesting: int = 1 << 10
    #: In-band requests awaiting a reply before the engine pauses, once OOB is enabled.
    max_queued_requests: int = 8

    def buffer_bound(self) -> int:
        """Most bytes the framer may hold at once: a message's tokens, the one-byte
        separators between them, and a token in progress one byte past its limit."""
        return 2 * self.max_token_size + self.max_token_count + 2


DEFAULT_LIMITS = Limits()
