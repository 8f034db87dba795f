"""The agent's and the fleet tool's command-line values, checked before anything starts.

Each parser takes what a user wrote and returns a typed value, or raises
:class:`~.errors.AgentOptionError` saying what was expected; nothing is silently dropped
(a NATS URL with a path, an address with trailing options, a VM name that cannot be a
subject token are all refused).
"""

from __future__ import annotations

import urllib.parse
from typing import NamedTuple

from ..client import Address, AddressError, parse_address
from .errors import AgentOptionError, SubjectError
from .subjects import escape_token

DEFAULT_NATS_PORT = 4222


class MonitorSpec(NamedTuple):
    """A monitor named on the command line (``--qmp NAME=ADDRESS``)."""

    name: str
    address: Address


class ListenAddress(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def check_name(name: str, what: str) -> str:
    """``name`` if it can be a subject token (see :mod:`.subjects`), else an error."""
    try:
        escape_token(name)
    except SubjectError as error:
        raise AgentOptionError(f"invalid {what} {name!r}: {error}") from None
    if name.strip() != name or not name.isprintable():
        raise AgentOptionError(
            f"invalid {what} {name!r}: expected printable text without leading or trailing spaces"
        )
    return name


def parse_monitor_spec(text: str) -> MonitorSpec:
    """``NAME=ADDRESS``, ADDRESS as the client takes it (``unix:PATH``, ``tcp:HOST:PORT``
    or a socket path)."""
    name, equals, address = text.partition("=")
    if not equals or not name or not address:
        raise AgentOptionError(
            f"invalid monitor {text!r}: expected NAME=ADDRESS (e.g. vm1=unix:/run/vm1.qmp)"
        )
    try:
        parsed = parse_address(address)
    except AddressError as error:
        raise AgentOptionError(f"invalid monitor {text!r}: {error}") from None
    return MonitorSpec(check_name(name, "VM name"), parsed)


def parse_listen_address(text: str) -> ListenAddress:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6; port 0 picks a free one)."""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise AgentOptionError(
            f"invalid listen address {text!r}: expected HOST:PORT (e.g. 127.0.0.1:9177)"
        )
    return ListenAddress(host, int(port))


def parse_nats_servers(text: str) -> list[str]:
    """``nats://HOST[:PORT]``, several separated by commas (servers of one cluster)."""
    servers = []
    for item in text.split(","):
        url = item.strip()
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise AgentOptionError(f"invalid NATS URL {url!r}: {error}") from None
        if parts.scheme != "nats" or not parts.hostname:
            raise AgentOptionError(f"invalid NATS URL {url!r}: expected nats://HOST[:PORT]")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise AgentOptionError(
                f"invalid NATS URL {url!r}: expected nats://HOST[:PORT] with nothing after"
            )
        servers.append(url if port is not None else f"{url.rstrip('/')}:{DEFAULT_NATS_PORT}")
    return servers


def parse_seconds(text: str, what: str, minimum: float = 0.001, maximum: float = 86400) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AgentOptionError(f"invalid {what} {text!r}: expected seconds") from None
    if not minimum <= value <= maximum:
        raise AgentOptionError(
            f"invalid {what} {text!r}: expected seconds between {minimum:g} and {maximum:g}"
        )
    return value
