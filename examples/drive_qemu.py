"""Drive QEMU with typed bindings and timeouts (pyqmp.client).

    qemu-system-x86_64 -S -display none -device virtio-balloon,id=balloon0 \\
        -qmp unix:qmp.sock,server=on,wait=off &
    pyqmp schema gen python --from qmp.sock -o . --package qemu_api   # bind this very QEMU
    python examples/drive_qemu.py qmp.sock
"""

import asyncio
import sys

import qemu_api  # generated above

from pyqmp.client import CommandTimeout, ExecuteError, QMPClient


async def main(address: str) -> None:
    async with QMPClient("example", timeout=5) as qmp:  # no call waits more than 5 s
        await qmp.connect(address, timeout=5)
        vm = qemu_api.Client(qmp)
        status = await vm.query_status(timeout=1)
        print("status:", status.status, "running:", status.running)
        print("balloon:", (await vm.query_balloon()).actual >> 20, "MiB")
        try:
            await vm.balloon(value=0)
        except ExecuteError as error:
            print("refused:", error.error_class, error.desc)
        resumed = asyncio.ensure_future(vm.wait_event(qemu_api.ResumeEvent, timeout=5))
        await vm.cont()
        print("event:", (await resumed).NAME)
        try:
            await vm.query_status(timeout=0.5)
        except CommandTimeout:
            print("QEMU did not answer within 0.5 s")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
