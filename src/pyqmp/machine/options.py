"""The machine's command line values: sizes, monitor addresses, device options.

Parsed as QEMU parses the same options, so that a QEMU command line's ``-m 512``,
``-m 1G``, ``--qmp unix:/path,server=on,wait=off`` and ``tcp:127.0.0.1:4444`` mean the
same here.  The one rule: every word is understood or is an error that names it — an
option that asks for protection (``tls-creds``, ``read-only``, ``uid``) and is ignored
would be the worst failure a security feature can have.
"""

from __future__ import annotations

import grp
import pwd
import re
from collections.abc import Callable
from typing import NamedTuple

from ..server.access import AccessError, AccessPolicy, PeerRule, check_pattern
from ..server.runtime import ListenerOptions
from ..server.tls import TLSCredentials

_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([bBkKmMgGtTpPeE]?)", re.ASCII)
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
    """Where a QMP monitor listens (a unix socket path, or a TCP host and port), and how."""

    kind: str  # "unix" or "tcp"
    path: str = ""
    host: str = ""
    port: int = 0
    options: ListenerOptions = ListenerOptions()

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        where = f"unix:{self.path}" if self.kind == "unix" else f"tcp:{host}:{self.port}"
        extra = []
        if self.options.tls is not None:
            extra.append("tls")
        if self.options.policy.restricted:
            extra.append(self.options.policy.describe())
        return f"{where} ({', '.join(extra)})" if extra else where


def split_options(text: str) -> list[str]:
    """QEMU's option list: items separated by ``,``, with ``,,`` standing for a comma."""
    items = [""]
    index = 0
    while index < len(text):
        char = text[index]
        if char == ",":
            if text.startswith(",,", index):
                items[-1] += ","
                index += 2
                continue
            items.append("")
        else:
            items[-1] += char
        index += 1
    return items


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes superscripts, which int() refuses."""
    return text.isascii() and text.isdigit()


_ON = ("on", "yes", "true")
_OFF = ("off", "no", "false")


def _bool(key: str, value: str) -> bool:
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise OptionError(f"{key} expects on or off, not '{value}'")


def _ids(key: str, value: str, lookup: Callable[[str], int]) -> frozenset[int]:
    ids = set()
    for item in value.split(":"):
        if _is_number(item) and int(item) < 2**32 - 1:
            ids.add(int(item))
            continue
        try:
            ids.add(lookup(item))
        except (KeyError, ValueError):
            raise OptionError(
                f"{key} expects numbers or names separated by ':', and '{item}' is neither"
            ) from None
    return frozenset(ids)


def _mode(key: str, value: str) -> int:
    if not re.fullmatch(r"0?[0-7]{3}", value):
        raise OptionError(f"{key} expects octal permissions such as 0660, not '{value}'")
    return int(value, 8)


def _patterns(key: str, value: str) -> tuple[str, ...]:
    try:
        return tuple(check_pattern(item) for item in value.split(":"))
    except AccessError as error:
        raise OptionError(f"{key}: {error}") from None


def _positive(key: str, value: str, parse: Callable[[str], float]) -> float:
    try:
        number = parse(value)
    except ValueError:
        number = 0
    if not number > 0 or number != number or number == float("inf"):
        raise OptionError(f"{key} expects a positive number, not '{value}'")
    return number


def _uid(name: str) -> int:
    return pwd.getpwnam(name).pw_uid


def _gid(name: str) -> int:
    return grp.getgrnam(name).gr_gid


# Sub-options each kind of monitor takes (QEMU's server/wait included, as it accepts them).
_COMMON = (
    "server",
    "wait",
    "nowait",
    "read-only",
    "allow",
    "deny",
    "max-connections",
    "negotiation-timeout",
)
_KEYS = {
    "unix": (*_COMMON, "uid", "gid", "mode"),
    "tcp": (*_COMMON, "tls-creds", "verify-peer"),
}
_FLAGS = ("server", "nowait")  # QEMU's legacy spellings without a value


def parse_monitor_address(text: str) -> MonitorAddress:
    """``unix:PATH[,OPTION=VALUE]...`` or ``tcp:HOST:PORT[,OPTION=VALUE]...``.

    Every option is understood or an :class:`OptionError` names it.
    """
    spec, *items = split_options(text)
    kind, _, rest = spec.partition(":")
    try:
        address = _parse_place(kind, rest)
        return address._replace(options=_parse_options(kind, items))
    except OptionError as error:
        raise OptionError(f"invalid monitor '{text}': {error}") from None


def _parse_place(kind: str, rest: str) -> MonitorAddress:
    if kind == "unix" and rest:
        return MonitorAddress("unix", path=rest)
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]  # [::1]
            valid_host = re.fullmatch(r"[0-9A-Fa-f:.]+", host) is not None
        else:
            valid_host = re.fullmatch(r"[A-Za-z0-9.-]*", host) is not None
        if valid_host and _is_number(port) and 0 <= int(port) < 65536:
            return MonitorAddress("tcp", host=host or "127.0.0.1", port=int(port))
    raise OptionError("expected unix:PATH or tcp:HOST:PORT before the first comma")


def _parse_options(kind: str, items: list[str]) -> ListenerOptions:
    values: dict[str, str] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if key not in _KEYS[kind]:
            other = "tcp" if kind == "unix" else "unix"
            where = f" (a {other} option)" if key in _KEYS[other] else ""
            raise OptionError(
                f"unknown option '{key}'{where}; a {kind} monitor takes {', '.join(_KEYS[kind])}"
            )
        if key in values:
            raise OptionError(f"option '{key}' given twice")
        if not equals and key not in _FLAGS:
            raise OptionError(f"option '{key}' needs a value ({key}=...)")
        if equals and not value:
            raise OptionError(f"option '{key}' has an empty value")
        values[key] = value if equals else "on"
    if "nowait" in values:  # QEMU's flag; with a value, a boolean as any other
        values.setdefault("wait", "off" if _bool("nowait", values["nowait"]) else "on")
    if not _bool("server", values.get("server", "on")):
        raise OptionError("server=off: the machine's monitors only listen")
    if _bool("wait", values.get("wait", "off")):
        raise OptionError("wait=on: the machine does not wait for a client before it starts")
    if "verify-peer" in values and "tls-creds" not in values:
        raise OptionError("verify-peer needs tls-creds=DIR")
    tls = None
    if "tls-creds" in values:
        tls = TLSCredentials(
            values["tls-creds"], _bool("verify-peer", values.get("verify-peer", "on"))
        )
    policy = AccessPolicy(
        read_only=_bool("read-only", values.get("read-only", "off")),
        allow=_patterns("allow", values["allow"]) if "allow" in values else (),
        deny=_patterns("deny", values["deny"]) if "deny" in values else (),
    )
    cap = None
    if "max-connections" in values:
        cap = parse_count("max-connections", values["max-connections"])
    options = ListenerOptions(policy=policy, tls=tls, max_connections=cap)
    if "negotiation-timeout" in values:
        options = options._replace(
            negotiation_timeout=_positive(
                "negotiation-timeout", values["negotiation-timeout"], float
            )
        )
    if kind == "unix":
        peers = PeerRule(
            uids=_ids("uid", values["uid"], _uid) if "uid" in values else frozenset(),
            gids=_ids("gid", values["gid"], _gid) if "gid" in values else frozenset(),
        )
        options = options._replace(peers=peers)
        if "mode" in values:
            options = options._replace(mode=_mode("mode", values["mode"]))
    return options


def parse_count(option: str, text: str) -> int:
    """A positive whole number for ``option``."""
    return int(_positive(option, text, _int))


def _int(text: str) -> int:
    if not _is_number(text):
        raise ValueError(text)
    return int(text)


def parse_device_id(text: str) -> str:
    """The ``id=ID`` of ``--balloon id=ID``; any other option is an error that names it."""
    device_id = None
    for item in split_options(text):
        key, equals, value = item.partition("=")
        if key != "id":
            raise OptionError(
                f"invalid device option '{text}': unknown option '{key}'; expected id=ID"
            )
        if device_id is not None:
            raise OptionError(f"invalid device option '{text}': option 'id' given twice")
        if not equals or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", value):
            raise OptionError(
                f"invalid device option '{text}': id expects a name (a letter, then "
                "letters, digits, '_', '.', '-')"
            )
        device_id = value
    assert device_id is not None
    return device_id
