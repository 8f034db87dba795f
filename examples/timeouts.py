"""A frozen server cannot hang the caller (pyqmp.client): timeouts, then a lost connection.

    python examples/timeouts.py      # starts its own `pyqmp machine`, freezes it, kills it
"""

import asyncio
import contextlib
import os
import signal
import sys
import tempfile

from pyqmp.client import CommandTimeout, ConnectionLost, QMPClient


async def main(directory: str) -> None:
    path = os.path.join(directory, "qmp.sock")
    machine = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyqmp", "machine", "-S", "--qmp", f"unix:{path}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert machine.stdout is not None
    await machine.stdout.readline()  # "pyqmp machine: QMP monitor on ...": it listens
    try:
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
            await asyncio.sleep(0)  # the call is sent
            machine.kill()  # SIGKILL: the pending call fails at once, not after 60 s
            try:
                await pending
            except ConnectionLost as error:
                print("killed:", type(error).__name__)
    finally:  # never leave it behind, frozen
        with contextlib.suppress(ProcessLookupError):
            machine.kill()
        await machine.wait()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(main(directory))
