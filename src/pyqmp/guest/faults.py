"""The guest's fault modes as data: one row per mode, saying everything that mode changes.

The driver never asks which mode it is in, only what the mode does (``mode.hangs``,
``mode.answer_delay``...), so a mode is added or changed here and nowhere else.  The
modes' names and wire codes are the channel's (:data:`pyqmp.channel.FAULT_MODES`); this
module's one rule is that every code there has exactly one row here.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from ..channel import FAULT_MODES

SLOW_DELAY = 3.0  # seconds a slow guest takes to answer, or to power down


class FaultMode(NamedTuple):
    """What one fault mode changes in the guest; the defaults are a healthy guest."""

    name: str
    #: Dies of SIGSEGV as soon as the mode is set (or at boot).
    crashes: bool = False
    #: Reads nothing and answers nothing; only notices its host going away.
    hangs: bool = False
    #: Sends random bytes instead of frames (and never says its driver is up).
    garbage: bool = False
    #: Sends statistics as fast as the socket takes them.
    floods: bool = False
    #: Reports absurd values: a balloon of 2**63 pages, every statistic at 2**64 - 1.
    lies: bool = False
    #: Seconds every answer (and a powerdown) waits before it happens.
    answer_delay: float = 0.0

    @property
    def code(self) -> int:
        return FAULT_MODES[self.name]


_MODES: Final = (
    FaultMode("none"),
    FaultMode("hang", hangs=True),
    FaultMode("crash", crashes=True),
    FaultMode("garbage", garbage=True),
    FaultMode("flood", floods=True),
    FaultMode("lie", lies=True),
    FaultMode("slow", answer_delay=SLOW_DELAY),
)
#: Every fault mode by its wire code.
FAULTS: Final[dict[int, FaultMode]] = {mode.code: mode for mode in _MODES}
HEALTHY: Final = FAULTS[FAULT_MODES["none"]]
