"""The machine's command line values: sizes, addresses, device options.

Parsed as QEMU parses the same options, so that a QEMU command line's ``-m 512``,
``-m 1G``, ``--qmp unix:/path`` and ``tcp:127.0.0.1:4444`` mean the same here.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([bBkKmMgGtTpPeE]?)")
_SUFFIX_SHIFT = {"b": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}


class OptionError(ValueError):
    """A command line value that cannot be used; the message says what was expected."""


def parse_ram_size(text: str) -> int:
    """Bytes for ``-m``: a number of MiB, or a number with a B/K/M/G/T/P/E suffix."""
    match = _SIZE_RE.fullmatch(text.strip())
    if not match:
        raise OptionError(f"invalid RAM size '{text}': expected e.g. 512, 512M or 1G")
    number, suffix = match.groups()
    shift = _SUFFIX_SHIFT[suffix.lower()] if suffix else 20
    size = int(float(number) * (1 << shift))
    if size < (1 << 20):
        raise OptionError(f"RAM size '{text}' is too small: at least 1M")
    if size >= 1 << 44:
        raise OptionError(f"RAM size '{text}' is too large")
    return size - size % 4096


class MonitorAddress(NamedTuple):
    """Where a QMP monitor listens: a unix socket path, or a TCP host and port."""

    kind: str  # "unix" or "tcp"
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.kind == "unix" else f"tcp:{self.host}:{self.port}"


def parse_monitor_address(text: str) -> MonitorAddress:
    """``unix:PATH`` or ``tcp:HOST:PORT`` (QEMU's ``,server=on,wait=off`` are accepted)."""
    spec = text.split(",", 1)[0]
    kind, _, rest = spec.partition(":")
    if kind == "unix" and rest:
        return MonitorAddress("unix", path=rest)
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if port.isdigit() and 0 <= int(port) < 65536:
            return MonitorAddress("tcp", host=host or "127.0.0.1", port=int(port))
    raise OptionError(f"invalid monitor address '{text}': expected unix:PATH or tcp:HOST:PORT")


def parse_device_id(text: str) -> str:
    """The ``id=ID`` of ``--balloon id=ID``."""
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key == "id" and re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", value):
            return value
    raise OptionError(f"invalid device option '{text}': expected id=ID")
