"""Command-line values of the agent and the fleet: typed, or refused with what was expected."""

from __future__ import annotations

import pytest

from pyqmp.agent.errors import AgentOptionError
from pyqmp.agent.options import (
    check_name,
    parse_listen_address,
    parse_monitor_spec,
    parse_nats_servers,
    parse_seconds,
)
from pyqmp.client import Address


def test_monitor_specs() -> None:
    assert parse_monitor_spec("vm1=unix:/run/vm1.qmp") == ("vm1", Address(path="/run/vm1.qmp"))
    assert parse_monitor_spec("vm1=/run/vm1.qmp") == ("vm1", Address(path="/run/vm1.qmp"))
    assert parse_monitor_spec("db=tcp:127.0.0.1:4444") == (
        "db",
        Address(host="127.0.0.1", port=4444),
    )
    for text, message in (
        ("vm1", "expected NAME=ADDRESS"),
        ("=unix:/x", "expected NAME=ADDRESS"),
        ("vm1=", "expected NAME=ADDRESS"),
        ("vm1=tcp:host", "expected tcp:HOST:PORT"),
        (" vm1=/x", "leading or trailing spaces"),
        ("vm\n1=/x", "printable"),
        ("x" * 300 + "=/x", "at most 255"),
    ):
        with pytest.raises(AgentOptionError, match=message):
            parse_monitor_spec(text)


def test_listen_addresses() -> None:
    assert parse_listen_address("127.0.0.1:9177") == ("127.0.0.1", 9177)
    assert parse_listen_address("[::1]:0") == ("::1", 0)
    assert str(parse_listen_address("[::1]:80")) == "[::1]:80"
    for text in ("9177", ":9177", "host:", "host:99999", "host:x"):
        with pytest.raises(AgentOptionError, match="expected HOST:PORT"):
            parse_listen_address(text)


def test_nats_urls() -> None:
    assert parse_nats_servers("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]
    assert parse_nats_servers("nats://a, nats://b:5") == ["nats://a:4222", "nats://b:5"]
    for text, message in (
        ("127.0.0.1:4222", "expected nats://HOST"),
        ("http://a:1", "expected nats://HOST"),
        ("nats://a:1/path", "nothing after"),
        ("nats://a:1?x=1", "nothing after"),
        ("nats://a:99999", "Port out of range"),
    ):
        with pytest.raises(AgentOptionError, match=message):
            parse_nats_servers(text)


def test_seconds_and_names() -> None:
    assert parse_seconds("0.5", "--interval") == 0.5
    for text in ("x", "-1", "0", "1e9", "nan"):
        with pytest.raises(AgentOptionError, match="--interval"):
            parse_seconds(text, "--interval")
    assert check_name("rack.b", "host name") == "rack.b"
    with pytest.raises(AgentOptionError, match="invalid host name ''"):
        check_name("", "host name")
