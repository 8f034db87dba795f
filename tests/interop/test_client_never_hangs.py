"""The 2010 thread's failure, from the client side, against real QEMU 7.2 and `pyqmp machine`.

With the server process frozen (SIGSTOP, as a monitor stuck behind a hung guest looks from
outside), pyqmp's `execute(..., timeout=1)` raises CommandTimeout after about a second while
qemu.qmp's QMPClient, asked the same thing on another monitor of the same frozen server, is
still waiting; after SIGCONT the next call gets its own reply (the late one is dropped), and
SIGKILL fails a pending call at once.  Every wait here is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import pytest
from qemu.qmp import QMPClient as QemuQMPClient
from qmp_targets import Target

from conftest import monitors
from pyqmp.client import CommandTimeout, ConnectionLost, QMPClient

DEADLINE = 20.0


async def frozen_server(pid: int, ours_path: str, theirs_path: str) -> None:
    ours = QMPClient("never-hangs")
    theirs = QemuQMPClient("qemu.qmp")
    await ours.connect(ours_path, timeout=DEADLINE)
    await asyncio.wait_for(theirs.connect(theirs_path), DEADLINE)
    try:
        assert (await ours.execute("query-status", timeout=DEADLINE))["status"] == "prelaunch"
        assert (await asyncio.wait_for(theirs.execute("query-status"), DEADLINE))[
            "running"
        ] is False

        os.kill(pid, signal.SIGSTOP)
        try:
            waiting = asyncio.ensure_future(theirs.execute("query-status"))
            started = time.monotonic()
            with pytest.raises(CommandTimeout):
                await ours.execute("query-status", timeout=1)
            elapsed = time.monotonic() - started
            assert elapsed >= 1.0
            await asyncio.sleep(0)
            assert not waiting.done(), "qemu.qmp is still waiting on the frozen server"
        finally:
            os.kill(pid, signal.SIGCONT)

        # The late reply to the timed-out call arrives first and is dropped: this call gets
        # the reply to its own request.
        assert (await ours.execute("query-version", timeout=DEADLINE))["qemu"]["major"] == 7
        assert ours.late_replies == 1
        assert (await asyncio.wait_for(waiting, DEADLINE))["status"] == "prelaunch"

        # SIGKILL: a call waiting without a timeout fails at once, and so do later ones.
        os.kill(pid, signal.SIGSTOP)
        pending = asyncio.ensure_future(ours.execute("query-status", timeout=None))
        await asyncio.sleep(0.1)
        assert not pending.done()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(pending, DEADLINE)
        with pytest.raises(ConnectionLost):
            await ours.execute("query-status")
    finally:
        await ours.disconnect()
        # qemu.qmp reports the killed server in its own way (EOFError, ConnectionResetError)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(theirs.disconnect(), DEADLINE)


def test_a_frozen_server_cannot_hang_the_client(server_target: Target) -> None:
    for running in monitors(server_target, 2):
        try:
            asyncio.run(frozen_server(running.process.pid, *running.sockets))
        finally:
            if running.process.poll() is None:
                os.kill(running.process.pid, signal.SIGCONT)
        assert running.wait_exit() == -signal.SIGKILL
