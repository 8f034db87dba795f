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
from pyqmp.server.access import AccessPolicy, PeerRule
from pyqmp.server.runtime import ListenerOptions
from pyqmp.server.tls import TLSCredentials


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


# -- every word of a monitor's options is understood, or an error names it ---------------------

BAD_MONITOR_OPTIONS = [
    # (option text, what the message must name)
    ("unix:q.sock,read-only=maybe", "read-only expects on or off, not 'maybe'"),
    ("unix:q.sock,read-only", "option 'read-only' needs a value"),
    ("unix:q.sock,readonly=on", "unknown option 'readonly'"),
    ("unix:q.sock,tls-creds=/tmp", "unknown option 'tls-creds' (a tcp option)"),
    ("tcp:127.0.0.1:0,uid=0", "unknown option 'uid' (a unix option)"),
    ("tcp:127.0.0.1:0,verify-peer=on", "verify-peer needs tls-creds=DIR"),
    ("tcp:127.0.0.1:0,tls-creds=/tmp,verify-peer=sometimes", "verify-peer expects on or off"),
    ("tcp:127.0.0.1:0,tls-creds=", "option 'tls-creds' has an empty value"),
    ("unix:q.sock,uid=1000,uid=1001", "option 'uid' given twice"),
    ("unix:q.sock,uid=no-such-user-here", "'no-such-user-here' is neither"),
    ("unix:q.sock,gid=12:x y", "'x y' is neither"),
    ("unix:q.sock,mode=0999", "mode expects octal permissions"),
    ("unix:q.sock,mode=rw", "mode expects octal permissions"),
    ("unix:q.sock,allow=query-[a]*", "invalid command pattern 'query-[a]*'"),
    ("unix:q.sock,deny=", "option 'deny' has an empty value"),
    ("unix:q.sock,max-connections=0", "max-connections expects a positive number, not '0'"),
    ("unix:q.sock,max-connections=-1", "max-connections expects a positive number"),
    ("unix:q.sock,max-connections=2.5", "max-connections expects a positive number"),
    ("unix:q.sock,negotiation-timeout=nan", "negotiation-timeout expects a positive number"),
    ("unix:q.sock,negotiation-timeout=inf", "negotiation-timeout expects a positive number"),
    ("unix:q.sock,server=off", "server=off"),
    ("unix:q.sock,wait=on", "wait=on"),
    ("unix:q.sock,", "unknown option ''"),
    ("unix:q.sock,=on", "unknown option ''"),
    ("tcp:127.0.0.1:4444:5", "expected unix:PATH or tcp:HOST:PORT"),
]


@pytest.mark.parametrize(("text", "message"), BAD_MONITOR_OPTIONS)
def test_bad_monitor_options_are_named(text: str, message: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_monitor_address(text)
    assert message in str(caught.value)
    assert f"invalid monitor '{text}'" in str(caught.value)


def test_monitor_options_are_all_honoured() -> None:
    address = parse_monitor_address(
        "unix:/tmp/a,,b.sock,server=on,wait=off,read-only=on,uid=0:1,gid=2,mode=0660,"
        "max-connections=7,negotiation-timeout=1.5,deny=quit"
    )
    assert address.path == "/tmp/a,b.sock"  # QEMU's ,, for a comma
    options = address.options
    assert options.policy == AccessPolicy(read_only=True, deny=("quit",))
    assert options.peers == PeerRule(frozenset({0, 1}), frozenset({2}))
    assert (options.mode, options.max_connections, options.negotiation_timeout) == (0o660, 7, 1.5)
    assert parse_monitor_address("unix:q.sock,nowait,server").options == ListenerOptions()
    assert parse_monitor_address("unix:q.sock,uid=root").options.peers.uids == {0}

    tcp = parse_monitor_address("tcp:[::1]:4444,tls-creds=/etc/pki/qemu,allow=query-*")
    assert (tcp.host, tcp.port) == ("::1", 4444)
    assert tcp.options.tls == TLSCredentials("/etc/pki/qemu", verify_peer=True)
    assert tcp.options.policy.allow == ("query-*",)
    off = parse_monitor_address("tcp::0,tls-creds=d,verify-peer=off").options.tls
    assert off == TLSCredentials("d", verify_peer=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id=b0,bus=pci.0", "unknown option 'bus'"),
        ("id=b0,id=b1", "'id' given twice"),
        ("id=0bad", "id expects a name"),
        ("id", "id expects a name"),
        ("", "unknown option ''"),
    ],
)
def test_bad_device_options_are_named(text: str, message: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_device_id(text)
    assert message in str(caught.value)
