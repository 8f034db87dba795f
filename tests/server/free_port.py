"""A TCP port on loopback that nothing listens on right now, for a server that must be told
its port (QEMU's ``-qmp tcp:...``; ``pyqmp machine`` is given port 0 and says which it got).

The kernel picks it (port 0), so two tests running at once never pick the same fixed one.
"""

from __future__ import annotations

import socket


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
