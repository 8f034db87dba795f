"""Giving the C heap's free memory back to the system: glibc's ``malloc_trim``.

A client that never reads leaves up to ``WRITE_HIGH_WATER`` of replies with its monitor;
when it goes they are freed, but into glibc's heap, in pieces among live objects, where
they stay resident: the soak's never-reading clients left ~100 MB of free heap in RSS.
``malloc_trim(0)`` hands free pages back (not only the heap's top), in a few ms.

:func:`release_soon` trims at once, or, when it did less than ``TRIM_INTERVAL`` ago, once
at the end of the interval (a burst of clients leaving costs one trim per interval).
Without glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import time
from collections.abc import Callable

# The least time between two trims, in seconds.
TRIM_INTERVAL = 0.5


def _find_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process runs on
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class _Trimmer:
    def __init__(self, trim: Callable[[int], int] | None) -> None:
        self._trim = trim
        self._last = -TRIM_INTERVAL
        self._scheduled: asyncio.TimerHandle | None = None
        self.trims = 0  # how many times the heap was trimmed

    def release_soon(self) -> None:
        if self._trim is None or self._scheduled is not None:
            return
        wait = self._last + TRIM_INTERVAL - time.monotonic()
        if wait <= 0:
            self._release()
        else:
            self._scheduled = asyncio.get_running_loop().call_later(wait, self._release)

    def _release(self) -> None:
        self._scheduled = None
        self._last = time.monotonic()
        if self._trim is not None:
            self._trim(0)
            self.trims += 1


_trimmer = _Trimmer(_find_trim())


def release_soon() -> None:
    """Give the free C heap back to the system, now or within ``TRIM_INTERVAL``."""
    _trimmer.release_soon()


def trims() -> int:
    """How many times the heap was trimmed in this process."""
    return _trimmer.trims
