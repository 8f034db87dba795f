"""Command line values parsed as QEMU parses them."""

from __future__ import annotations

import pytest

from pyqmp.machine.options import (
    MonitorAddress,
    OptionError,
    parse_device_id,
    parse_monitor_address,
    parse_ram_size,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512", 512 << 20),
        ("512M", 512 << 20),
        ("1G", 1 << 30),
        ("2048k", 2 << 20),
        ("1.5G", 3 << 29),
    ],
)
def test_ram_sizes(text: str, size: int) -> None:
    assert parse_ram_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "12Q", "0", "-5", "100T"])
def test_bad_ram_sizes(text: str) -> None:
    with pytest.raises(OptionError):
        parse_ram_size(text)


def test_monitor_addresses() -> None:
    assert parse_monitor_address("unix:/tmp/q.sock") == MonitorAddress("unix", path="/tmp/q.sock")
    assert parse_monitor_address("unix:/tmp/q.sock,server=on,wait=off").path == "/tmp/q.sock"
    assert parse_monitor_address("tcp:127.0.0.1:4444") == MonitorAddress(
        "tcp", host="127.0.0.1", port=4444
    )
    assert parse_monitor_address("tcp::4444").host == "127.0.0.1"  # loopback unless told
    for bad in ["udp:1", "unix:", "tcp:host:port", "tcp:1.2.3.4:99999"]:
        with pytest.raises(OptionError):
            parse_monitor_address(bad)


def test_device_ids() -> None:
    assert parse_device_id("id=balloon0") == "balloon0"
    with pytest.raises(OptionError):
        parse_device_id("bus=pci.0")
