"""Events (pyqmp.client): a bounded stream read as it comes, one that nobody reads, and
waiting for one event with a timeout.  Against QEMU or `pyqmp machine` started with -S:

    pyqmp machine -S --qmp unix:qmp.sock &
    python examples/events.py qmp.sock
"""

import asyncio
import sys

from pyqmp.client import QMPClient


async def main(address: str) -> None:
    async with QMPClient("events", timeout=5) as qmp:
        await qmp.connect(address, timeout=5)
        with qmp.events("STOP", "RESUME") as changes, qmp.events(maxsize=4) as unread:
            for _ in range(10):
                await qmp.execute("cont")
                await qmp.execute("stop")
            for _ in range(20):  # every one of them, in order
                print((await changes.get(timeout=5)).name, end=" ")
            # a stream nobody reads holds at most maxsize events: the oldest are dropped
            print(f"\nunread: {len(unread)} held, {unread.dropped} dropped")
        waiting = asyncio.ensure_future(qmp.wait_event("RESUME", timeout=5))
        await asyncio.sleep(0)  # subscribed now
        await qmp.execute("cont")
        print("waited for:", (await waiting).name)
        try:
            await qmp.wait_event("SHUTDOWN", timeout=0.5)
        except TimeoutError:
            print("no SHUTDOWN within 0.5 s")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
