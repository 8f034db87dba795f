"""The fleet's NATS subjects: how hosts, VMs and events are named on the wire.

::

    qmp.HOST.VM.event.NAME    every event of a VM, as JSON
    qmp.HOST.VM.execute       request/reply: {"execute", "arguments"} -> a QMP reply
    qmp.HOST.list             request/reply: the host's VMs and their state
    qmp.list                  the same, answered by every agent (scatter-gather)

Its one rule: every name maps to exactly one subject token and back.  A token keeps
ASCII letters, digits, ``-`` and ``_`` (NATS's recommended characters); every other byte
of the name's UTF-8 form is written ``%XX`` (upper-case hex), so ``node1.example.com``
becomes ``node1%2Eexample%2Ecom`` and a name can never inject a ``.``, a wildcard or
whitespace into a subject.  Decoding refuses anything encoding would not produce, so a
subject seen on the wire names one VM or none.
"""

from __future__ import annotations

import string
from typing import Final, NamedTuple

from .errors import SubjectError

ROOT: Final = "qmp"
FLEET_LIST_SUBJECT: Final = f"{ROOT}.list"
# Names longer than this (in UTF-8 bytes) are refused: subjects stay short, and a name
# from outside (a socket file, a server's event) cannot make them grow without bound.
MAX_NAME_BYTES: Final = 255

_KEPT: Final = frozenset((string.ascii_letters + string.digits + "-_").encode())
_HEX_DIGITS: Final = frozenset(b"0123456789ABCDEF")


def escape_token(name: str) -> str:
    """The subject token for ``name`` (see the module's rule)."""
    try:
        data = name.encode("utf-8")
    except UnicodeEncodeError:  # a file name that was not UTF-8 (surrogate-escaped)
        raise SubjectError(f"name {name!r} is not valid UTF-8 text") from None
    if not data:
        raise SubjectError("an empty name has no subject token")
    if len(data) > MAX_NAME_BYTES:
        raise SubjectError(
            f"name {name[:40]!r}... is {len(data)} bytes long: at most {MAX_NAME_BYTES}"
        )
    if all(byte in _KEPT for byte in data):
        return name
    return "".join(chr(byte) if byte in _KEPT else f"%{byte:02X}" for byte in data)


def unescape_token(token: str) -> str:
    """The name whose token is ``token``; :class:`SubjectError` if no name has it."""
    if not token:
        raise SubjectError("an empty subject token names nothing")
    if token.isascii() and all(ord(char) in _KEPT for char in token):
        return token
    data = token.encode("ascii", "replace")
    out = bytearray()
    index = 0
    while index < len(data):
        byte = data[index]
        if byte in _KEPT:
            out.append(byte)
            index += 1
            continue
        digits = data[index + 1 : index + 3]
        if byte != ord("%") or len(digits) != 2 or not set(digits) <= _HEX_DIGITS:
            raise SubjectError(f"subject token {token!r} is not escaped as %XX at {index}")
        value = int(digits, 16)
        if value in _KEPT:  # encoding keeps these bytes, so it never writes them escaped
            raise SubjectError(f"subject token {token!r} escapes a kept character at {index}")
        out.append(value)
        index += 3
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise SubjectError(f"subject token {token!r} does not decode as UTF-8") from None


def event_subject(host: str, vm: str, event: str) -> str:
    return f"{ROOT}.{escape_token(host)}.{escape_token(vm)}.event.{escape_token(event)}"


def execute_subject(host: str, vm: str) -> str:
    return f"{ROOT}.{escape_token(host)}.{escape_token(vm)}.execute"


def list_subject(host: str) -> str:
    return f"{ROOT}.{escape_token(host)}.list"


def execute_wildcard(host: str) -> str:
    """What an agent subscribes to for its VMs' commands."""
    return f"{ROOT}.{escape_token(host)}.*.execute"


def events_filter(host: str | None, vm: str | None, event: str | None) -> str:
    """A subscription subject for the events of a host, VM and event name; None: any."""
    parts = [escape_token(part) if part is not None else "*" for part in (host, vm)]
    last = escape_token(event) if event is not None else "*"
    return f"{ROOT}.{parts[0]}.{parts[1]}.event.{last}"


class EventSubject(NamedTuple):
    host: str
    vm: str
    event: str


def parse_event_subject(subject: str) -> EventSubject:
    """The host, VM and event an event subject names."""
    tokens = subject.split(".")
    if len(tokens) != 5 or tokens[0] != ROOT or tokens[3] != "event":
        raise SubjectError(f"{subject!r} is not an event subject ({ROOT}.HOST.VM.event.NAME)")
    return EventSubject(*(unescape_token(token) for token in (tokens[1], tokens[2], tokens[4])))


def parse_execute_subject(subject: str) -> tuple[str, str]:
    """The host and VM an execute subject names."""
    tokens = subject.split(".")
    if len(tokens) != 4 or tokens[0] != ROOT or tokens[3] != "execute":
        raise SubjectError(f"{subject!r} is not an execute subject ({ROOT}.HOST.VM.execute)")
    return unescape_token(tokens[1]), unescape_token(tokens[2])
