"""A frozen server cannot hang the caller (pyqmp.client): timeouts, then a lost connection.

    python examples/timeouts.py      # starts its own `pyqmp machine`, freezes it, kills it
"""

import asyncio
import os
import signal
import sys
import tempfile

from pyqmp.client import CommandTimeout, ConnectionLost, QMPClient


async def main(directory: str) -> None:
    path = os.path.join(directory, "qmp.sock")
    machine = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyqmp", "machine", "-S", "--qmp", f"unix:{path}",
        stderr=asyncio.subprocess.PIPE)
    assert machine.stderr is not None
    while b"connect with" not in await machine.stderr.readline():  # it listens now
        pass
    async with QMPClient("example", timeout=5) as qmp:
        await qmp.connect(path, timeout=5)
        os.kill(machine.pid, signal.SIGSTOP)  # the server freezes, as a stopped QEMU does
        try:
            await qmp.execute("query-status", timeout=1)
        except CommandTimeout as error:
            print("frozen:", error)
        os.kill(machine.pid, signal.SIGCONT)  # the late reply is recognised and dropped
        print("thawed:", (await qmp.execute("query-status"))["status"])
        os.kill(machine.pid, signal.SIGSTOP)
        pending = asyncio.ensure_future(qmp.execute("query-status", timeout=60))
        await asyncio.sleep(0.1)  # (only so that the call above is sent first)
        machine.kill()  # SIGKILL: the pending call fails at once, not after 60 s
        try:
            await pending
        except ConnectionLost as error:
            print("killed:", type(error).__name__)
    await machine.wait()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(main(directory))
