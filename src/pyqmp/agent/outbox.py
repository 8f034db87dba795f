"""Messages on their way to NATS, held within a fixed budget.

VM monitors put events in and never wait; one publisher takes them out whenever NATS is
connected.  While NATS is away or slower than the VMs, the outbox fills up to
``max_messages`` messages or ``max_bytes`` bytes, and then the oldest message is dropped
and counted for each new one, so an outage costs the oldest news and never memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Final, NamedTuple

DEFAULT_MAX_MESSAGES: Final = 100_000
DEFAULT_MAX_BYTES: Final = 32 << 20


class Message(NamedTuple):
    subject: str
    payload: bytes


class Outbox:
    def __init__(
        self, max_messages: int = DEFAULT_MAX_MESSAGES, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_messages < 1 or max_bytes < 1:
            raise ValueError("an outbox holds at least one message and one byte")
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._messages: deque[Message] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        #: Messages dropped to stay within the budget (oldest first).
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._messages)

    @property
    def size(self) -> int:
        """Bytes held (subjects and payloads)."""
        return self._bytes

    def put(self, subject: str, payload: bytes) -> None:
        size = len(subject) + len(payload)
        if size > self.max_bytes:
            self.dropped += 1  # could never fit
            return
        messages = self._messages
        while messages and (
            len(messages) >= self.max_messages or self._bytes + size > self.max_bytes
        ):
            old = messages.popleft()
            self._bytes -= len(old.subject) + len(old.payload)
            self.dropped += 1
        messages.append(Message(subject, payload))
        self._bytes += size
        self._ready.set()

    def take(self) -> Message | None:
        """The oldest message, or None."""
        if not self._messages:
            self._ready.clear()
            return None
        message = self._messages.popleft()
        self._bytes -= len(message.subject) + len(message.payload)
        return message

    def put_back(self, message: Message) -> None:
        """A message that could not be sent goes first again (within the budget)."""
        size = len(message.subject) + len(message.payload)
        if len(self._messages) >= self.max_messages or self._bytes + size > self.max_bytes:
            self.dropped += 1
            return
        self._messages.appendleft(message)
        self._bytes += size
        self._ready.set()

    async def wait(self) -> None:
        """Until there is something to take."""
        if self._messages:
            return
        self._ready.clear()
        await self._ready.wait()
