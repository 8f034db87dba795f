"""QMP messages: what a request must look like, and the exact bytes of what goes back.

Incoming, :func:`parse_request` applies the rules of ``qapi/qmp-dispatch.c`` to one
framed JSON value: it must be an object whose members are ``execute`` (a string),
``arguments`` (an object), ``id`` (anything) and, once OOB is enabled, ``exec-oob`` (a
string, instead of ``execute``).  A fault is reported with QEMU's exact text, and when
several members are at fault, the one QEMU meets first (in ``QDict`` order) is named.

Outgoing, the ``encode_*`` functions build the greeting, replies and events as QEMU
writes them: members in QEMU's order with its spacing, ``id`` echoed whatever its JSON
type, only ASCII (everything else as ``\\uXXXX``), each message ended by ``\\r\\n``.
Values an application returns are encoded with orjson (equal as JSON to what QEMU would
write; spacing and float digits may differ); everything the engine writes itself, and
every ``id``, is byte for byte what QEMU sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple

from .errors import ERROR_CLASS_NAMES, EncodeError, ErrorClass
from .qemu_json import JSONValue, ascii_json, dumps, dumps_ascii
from .qemu_order import qdict_order

NOT_AN_OBJECT: Final = "QMP input must be a JSON object"
LACKS_EXECUTE: Final = "QMP input lacks member 'execute'"
ARGUMENTS_NOT_OBJECT: Final = "QMP input member 'arguments' must be an object"

_PLAIN_MEMBERS: Final = frozenset(("execute", "arguments", "id"))


class CommandRequest:
    """A well-formed request: ``{"execute"|"exec-oob": name, "arguments": ..., "id": ...}``.

    ``id`` is None both when absent and when the client sent ``null``; ``has_id`` tells
    them apart (the reply echoes an ``id`` exactly when one was sent).  ``oob`` is True
    for ``exec-oob``.  Requests compare by identity: the engine matches replies to the
    very request object it handed out.
    """

    __slots__ = ("arguments", "has_id", "id", "name", "oob")

    def __init__(
        self,
        name: str,
        arguments: dict[str, JSONValue],
        id: JSONValue = None,
        has_id: bool = False,
        oob: bool = False,
    ) -> None:
        self.name = name
        self.arguments = arguments
        self.id = id
        self.has_id = has_id
        self.oob = oob

    def __repr__(self) -> str:
        verb = "exec-oob" if self.oob else "execute"
        id_part = f", id={self.id!r}" if self.has_id else ""
        return f"CommandRequest({verb}={self.name!r}, arguments={self.arguments!r}{id_part})"


class RequestError(NamedTuple):
    """A request the engine refuses before any command sees it."""

    desc: str
    error_class: str = ErrorClass.GENERIC_ERROR.value
    id: JSONValue = None
    has_id: bool = False


def is_oob_shaped(value: object) -> bool:
    """QEMU's ``qmp_is_oob``: an object with ``exec-oob`` and without ``execute`` is
    answered at once, ahead of queued in-band requests, even when it is refused."""
    return type(value) is dict and "exec-oob" in value and "execute" not in value


def parse_request(value: JSONValue, oob_enabled: bool) -> CommandRequest | RequestError:
    """Check one framed value as ``qmp_dispatch_check_obj`` does."""
    if type(value) is not dict:
        return RequestError(NOT_AN_OBJECT)
    name = value.get("execute")
    if type(name) is str and value.keys() <= _PLAIN_MEMBERS:
        arguments = value.get("arguments")
        if arguments is None and "arguments" not in value:
            arguments = {}
        if type(arguments) is dict:
            return CommandRequest(name, arguments, value.get("id"), "id" in value)
    return _check_members(value, oob_enabled)


def _check_members(
    request: dict[str, JSONValue], oob_enabled: bool
) -> CommandRequest | RequestError:
    has_id = "id" in request
    request_id = request.get("id")
    verb: str | None = None
    for member in qdict_order(request):
        member_value = request[member]
        if member == "execute" or (member == "exec-oob" and oob_enabled):
            if type(member_value) is not str:
                return RequestError(
                    f"QMP input member '{member}' must be a string", id=request_id, has_id=has_id
                )
            if verb is not None:
                return RequestError(
                    f"QMP input member '{member}' clashes with '{verb}'",
                    id=request_id,
                    has_id=has_id,
                )
            verb = member
        elif member == "arguments":
            if type(member_value) is not dict:
                return RequestError(ARGUMENTS_NOT_OBJECT, id=request_id, has_id=has_id)
        elif member != "id":
            return RequestError(
                f"QMP input member '{member}' is unexpected", id=request_id, has_id=has_id
            )
    if verb is None:
        return RequestError(LACKS_EXECUTE, id=request_id, has_id=has_id)
    name = request[verb]
    assert isinstance(name, str)
    arguments = request.get("arguments", {})
    assert isinstance(arguments, dict)
    return CommandRequest(name, arguments, request_id, has_id, verb == "exec-oob")


# -- outgoing --------------------------------------------------------------------------

_END: Final = b"}\r\n"
_RETURN: Final = b'{"return": '
_ID: Final = b', "id": '
_ERROR_WITH_ID: Final = b'{"id": '
_ERROR: Final = b'"error": {"class": '
_DESC: Final = b', "desc": '


def encode_id(request_id: JSONValue) -> bytes:
    """An ``id`` exactly as QEMU echoes it (floats as ``%.17g``, so ``1.0`` is ``1``)."""
    kind = type(request_id)
    if kind is int or kind is str:
        return dumps_ascii(request_id)
    return dumps(request_id).encode("ascii")


def encode_return(value: JSONValue, request_id: JSONValue = None, has_id: bool = False) -> bytes:
    """``{"return": value, "id": id}\\r\\n`` (no ``id`` unless ``has_id``)."""
    encoded = dumps_ascii(value)
    if has_id:
        return b"".join((_RETURN, encoded, _ID, encode_id(request_id), _END))
    return b"".join((_RETURN, encoded, _END))


def encode_return_encoded(
    encoded: bytes, request_id: JSONValue = None, has_id: bool = False
) -> bytes:
    """Like :func:`encode_return` for a value already encoded as UTF-8 JSON text (by
    msgspec, say); it is made ASCII-only, not checked."""
    if not encoded.isascii() or b"\x7f" in encoded or b"\\u00" in encoded:
        encoded = ascii_json(encoded)
    if has_id:
        return b"".join((_RETURN, encoded, _ID, encode_id(request_id), _END))
    return b"".join((_RETURN, encoded, _END))


def encode_error(
    error_class: str, desc: str, request_id: JSONValue = None, has_id: bool = False
) -> bytes:
    """``{"id": id, "error": {"class": ..., "desc": ...}}\\r\\n`` as QEMU writes it."""
    if error_class not in ERROR_CLASS_NAMES:
        raise EncodeError(f"{error_class!r} is not a QMP error class")
    if type(desc) is not str:
        if not isinstance(desc, str):
            raise EncodeError(f"error description must be a string, not {type(desc).__name__}")
        desc = str(desc)
    body = b"".join(
        (_ERROR, b'"', str(error_class).encode("ascii"), b'"', _DESC, dumps_ascii(desc), b"}")
    )
    if has_id:
        return b"".join((_ERROR_WITH_ID, encode_id(request_id), b", ", body, _END))
    return b"".join((b"{", body, _END))


class EventTimestamp(NamedTuple):
    """When an event happened, as QMP sends it: seconds and microseconds since the epoch."""

    seconds: int
    microseconds: int

    @classmethod
    def from_microseconds(cls, microseconds: int) -> EventTimestamp:
        """From ``g_get_real_time()``-style microseconds since the epoch."""
        seconds, rest = divmod(microseconds, 1_000_000)
        return cls(seconds, rest)

    @classmethod
    def from_seconds(cls, seconds: float) -> EventTimestamp:
        """From ``time.time()``-style seconds since the epoch."""
        return cls.from_microseconds(round(seconds * 1_000_000))


def encode_event(
    name: str, data: Mapping[str, JSONValue] | None, timestamp: EventTimestamp
) -> bytes:
    """``{"timestamp": {...}, "event": name, "data": data}\\r\\n``; no ``data`` member
    when ``data`` is None (QEMU omits it for events without members)."""
    seconds, microseconds = timestamp
    head = b'{"timestamp": {"seconds": %d, "microseconds": %d}, "event": ' % (
        int(seconds),
        int(microseconds),
    )
    if data is None:
        return b"".join((head, dumps_ascii(name), _END))
    return b"".join((head, dumps_ascii(name), b', "data": ', dumps_ascii(data), _END))


def encode_greeting(version: JSONValue, capabilities: Sequence[str]) -> bytes:
    """``{"QMP": {"version": ..., "capabilities": [...]}}\\r\\n``, byte for byte QEMU's for
    the same values (``version`` in the shape of ``query-version``'s result)."""
    return b"".join(
        (
            b'{"QMP": {"version": ',
            dumps(version).encode("ascii"),
            b', "capabilities": ',
            dumps(list(capabilities)).encode("ascii"),
            b"}}\r\n",
        )
    )
