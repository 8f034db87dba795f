"""Where a QMP server listens, as a user writes it.

``unix:PATH`` and ``tcp:HOST:PORT`` are QEMU's ``-qmp`` spellings (``[::1]`` for an IPv6
host); a bare string is a unix socket path, and a ``(host, port)`` pair a TCP address, as
qemu.qmp takes them.  Anything else is refused with what was expected; nothing after the
address is silently dropped.
"""

from __future__ import annotations

from typing import NamedTuple


class AddressError(ValueError):
    """An address that cannot be used; the message says what was expected."""


class Address(NamedTuple):
    """A unix socket path, or a TCP host and port."""

    path: str | None = None
    host: str = ""
    port: int = 0

    @property
    def is_unix(self) -> bool:
        return self.path is not None

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


AddressLike = str | tuple[str, int] | Address

_EXPECTED = "expected unix:PATH, tcp:HOST:PORT, a socket path or (host, port)"


def parse_address(address: AddressLike) -> Address:
    """The :class:`Address` that ``address`` names, or :class:`AddressError`."""
    if isinstance(address, Address):
        return address
    if isinstance(address, tuple):
        if len(address) == 2 and isinstance(address[0], str) and type(address[1]) is int:
            return _tcp(address[0], address[1], repr(address))
        raise AddressError(f"invalid address {address!r}: {_EXPECTED}")
    if not isinstance(address, str) or not address:
        raise AddressError(f"invalid address {address!r}: {_EXPECTED}")
    kind, colon, rest = address.partition(":")
    if colon and kind == "unix":
        if not rest:
            raise AddressError(f"invalid address {address!r}: unix: needs a path")
        return Address(path=rest)
    if colon and kind == "tcp":
        host, _, port = rest.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host or not port.isdigit():
            raise AddressError(f"invalid address {address!r}: expected tcp:HOST:PORT")
        return _tcp(host, int(port), address)
    if colon and kind.isalpha() and len(kind) > 1:
        raise AddressError(f"invalid address {address!r}: unknown kind '{kind}:'; {_EXPECTED}")
    return Address(path=address)


def _tcp(host: str, port: int, text: str) -> Address:
    if not 0 < port < 65536:
        raise AddressError(f"invalid address {text}: port {port} is not in 1..65535")
    return Address(host=host, port=port)
