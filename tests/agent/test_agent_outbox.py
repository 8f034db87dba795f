"""The outbox to NATS stays within its budget, dropping (and counting) the oldest."""

from __future__ import annotations

import asyncio

from pyqmp.agent.outbox import Outbox


def test_budget_by_count_and_by_bytes() -> None:
    box = Outbox(max_messages=3, max_bytes=100)
    for index in range(5):
        box.put("s", b"%d" % index)
    assert len(box) == 3 and box.dropped == 2
    assert [box.take() for _ in range(3)] == [("s", b"2"), ("s", b"3"), ("s", b"4")]
    assert box.take() is None
    box.put("s", b"x" * 60)
    box.put("s", b"y" * 60)  # both do not fit: the older goes
    assert len(box) == 1 and box.dropped == 3 and box.size == 61
    box.put("s", b"z" * 200)  # can never fit
    assert box.dropped == 4
    message = box.take()
    assert message is not None
    box.put_back(message)
    assert box.take() == message


def test_wait_wakes_on_put() -> None:
    async def scenario() -> bytes:
        box = Outbox()
        waiter = asyncio.create_task(box.wait())
        await asyncio.sleep(0)
        assert not waiter.done()
        box.put("s", b"event")
        await asyncio.wait_for(waiter, 10)
        message = box.take()
        assert message is not None
        return message.payload

    assert asyncio.run(scenario()) == b"event"
