"""Event streams: what a client hands its callers of the events a server sends.

Its one rule: no caller can make the client hold events without bound.  Each stream keeps
at most ``maxsize`` events; when a new one arrives into a full stream, the oldest is
dropped and counted (:attr:`EventStream.dropped`), so a caller that stops reading loses
the oldest news, never the newest, and never memory.  Events nobody asked for are not
kept at all.  A stream receives from the moment it is made (so make it before sending
the command whose event you want), until it is closed, its client disconnects, or it is
garbage: the client holds streams weakly, so one a caller dropped unsubscribes itself.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final

from ..protocol import Event
from .errors import ConnectionLost

#: Events a stream keeps unread before it drops the oldest.
DEFAULT_MAXSIZE: Final = 1000

EventMatch = Mapping[str, object] | Callable[[Event], bool] | None


def matches(event: Event, match: EventMatch) -> bool:
    """True if ``event`` fits ``match``: every member of a mapping equal in the event's
    data (nested mappings compared member by member), or a predicate saying yes."""
    if match is None:
        return True
    if callable(match):
        return bool(match(event))
    return _contains(event.data, match)


def _contains(data: object, wanted: Mapping[str, object]) -> bool:
    if not isinstance(data, dict):
        return False
    for key, value in wanted.items():
        if key not in data:
            return False
        if isinstance(value, Mapping):
            if not _contains(data[key], value):
                return False
        elif data[key] != value:
            return False
    return True


class EventStream:
    """The events of some names (all, if none given) as an async iterator::

        with qmp.events("STOP", "RESUME") as stream:
            await qmp.execute("stop")
            event = await stream.get(timeout=5)

    Iteration ends when the stream is closed or the client disconnects; if the
    connection is lost (and is not being re-established), iteration raises
    :class:`~pyqmp.client.ConnectionLost` once the events received before are read.
    """

    __slots__ = (
        "__weakref__",
        "_closed",
        "_error",
        "_names",
        "_on_close",
        "_queue",
        "_waiter",
        "dropped",
        "maxsize",
    )

    def __init__(
        self,
        names: tuple[str, ...],
        maxsize: int,
        on_close: Callable[[EventStream], None],
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize}")
        self._names = frozenset(names)
        self.maxsize = maxsize
        self._queue: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._error: BaseException | None = None
        self._on_close = on_close
        #: Events dropped because the stream was full (oldest first).
        self.dropped = 0

    @property
    def names(self) -> frozenset[str]:
        """The event names this stream receives; empty means every event."""
        return self._names

    def wants(self, name: str) -> bool:
        return not self._names or name in self._names

    def __len__(self) -> int:
        return len(self._queue)

    # -- fed by the client ----------------------------------------------------------------

    def put(self, event: Event) -> None:
        queue = self._queue
        if len(queue) >= self.maxsize:
            queue.popleft()
            self.dropped += 1
        queue.append(event)
        self._wake()

    def end(self, error: BaseException | None = None) -> None:
        """No more events will come: iteration ends (or raises ``error``) once read."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- read by the caller ---------------------------------------------------------------

    def get_nowait(self) -> Event | None:
        """The oldest unread event, or None."""
        return self._queue.popleft() if self._queue else None

    async def get(self, *, timeout: float | None = None) -> Event:
        """The next event, waiting at most ``timeout`` seconds (:class:`TimeoutError`).

        Raises :class:`StopAsyncIteration` when the stream has ended (or the error it
        ended with)."""
        if self._queue:
            return self._queue.popleft()
        if timeout is None:
            return await self._next()
        async with asyncio.timeout(timeout):
            return await self._next()

    async def _next(self) -> Event:
        while not self._queue:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    async def wait(self, match: EventMatch = None, *, timeout: float | None = None) -> Event:
        """The next event that fits ``match`` (see :func:`matches`); others are skipped."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self._next()
                if matches(event, match):
                    return event

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        return await self._next()

    def close(self) -> None:
        """Stop receiving; what was received can still be read."""
        self.end()
        self._on_close(self)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connection_lost_error(where: str) -> ConnectionLost:
    return ConnectionLost(f"{where}: the connection was lost while waiting for events")
