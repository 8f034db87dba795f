"""Per-monitor access: which commands a monitor may run, and who may connect to it.

A monitor's :class:`AccessPolicy` (read-only, ``allow=`` and ``deny=`` patterns) becomes a
:class:`CommandView` over the machine-wide dispatcher: a command the policy forbids does
not exist for that monitor — it answers CommandNotFound, and the monitor's
``query-commands`` and ``query-qmp-schema`` leave it out (computed once per view, from
the full answers, and cached: a view never leaks the full lists and never recomputes
them per request).  Which commands are read-only is said by the schema, with the
``read-only`` feature, never by a list here.  A command that runs other commands
(``human-monitor-command``) asks :func:`current_policy` about each one.

The one rule: a policy is applied at the only door a request has, the view's
:meth:`CommandView.call`; nothing behind it needs to know the policy exists.
"""

from __future__ import annotations

import contextvars
import fnmatch
import re
import socket
import struct
from collections.abc import Iterable
from typing import Any, NamedTuple

import msgspec

from ..protocol.errors import command_not_found
from .dispatch import Dispatcher
from .errors import COMMAND_NOT_FOUND, CommandError, ServerError

# The schema feature that marks a command without side effects.
READ_ONLY_FEATURE = "read-only"
# The protocol runs capabilities negotiation itself: no policy can take it away.
ALWAYS_ALLOWED = frozenset(("qmp_capabilities",))
# The introspection commands whose answers a view filters (QEMU's, known to every client).
QUERY_COMMANDS = "query-commands"
QUERY_QMP_SCHEMA = "query-qmp-schema"

_PATTERN_RE = re.compile(r"[A-Za-z0-9_.*?-]+")


class AccessError(ServerError):
    """A policy or peer rule that cannot be applied; the message names what is wrong."""


class AccessPolicy(NamedTuple):
    """What a monitor may run: read-only commands only, and/or ``allow`` / ``deny`` globs."""

    read_only: bool = False
    allow: tuple[str, ...] = ()  # empty: every command (that read_only leaves)
    deny: tuple[str, ...] = ()

    @property
    def restricted(self) -> bool:
        return self.read_only or bool(self.allow) or bool(self.deny)

    def describe(self) -> str:
        parts = ["read-only"] if self.read_only else []
        parts += [f"allow={':'.join(self.allow)}"] if self.allow else []
        parts += [f"deny={':'.join(self.deny)}"] if self.deny else []
        return ",".join(parts) or "full"


FULL_ACCESS = AccessPolicy()


def check_pattern(pattern: str) -> str:
    """``pattern`` if it is a command-name glob (letters, digits, ``_.-``, ``*``, ``?``)."""
    if not _PATTERN_RE.fullmatch(pattern):
        raise AccessError(
            f"invalid command pattern '{pattern}': expected a command name, "
            "with * and ? as wildcards"
        )
    return pattern


class _PermittedSet:
    """The commands a policy leaves of a schema's, computed once."""

    def __init__(self, policy: AccessPolicy, commands: dict[str, Any]) -> None:
        for pattern in (*policy.allow, *policy.deny):
            if not fnmatch.filter(commands, pattern):
                raise AccessError(f"command pattern '{pattern}' matches no command")
        permitted = set()
        for name, command in commands.items():
            features = {feature.name for feature in command.features}
            if name not in ALWAYS_ALLOWED:
                if policy.read_only and READ_ONLY_FEATURE not in features:
                    continue
                if policy.allow and not _matches(name, policy.allow):
                    continue
                if _matches(name, policy.deny):
                    continue
            permitted.add(name)
        self.names = frozenset(permitted)


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


# The policy of the monitor whose request is running, for commands that run others.
_current: contextvars.ContextVar[CommandView | None] = contextvars.ContextVar(
    "pyqmp_current_view", default=None
)


def current_policy_permits(command: str) -> bool:
    """Whether the monitor running the current request may run ``command`` (a QMP name)."""
    view = _current.get()
    return view is None or command in view.permitted


class CommandView:
    """A dispatcher as one monitor's policy shows it; same interface as :class:`Dispatcher`."""

    def __init__(self, dispatcher: Dispatcher, policy: AccessPolicy) -> None:
        self.dispatcher = dispatcher
        self.schema = dispatcher.schema
        self.policy = policy
        self.permitted = _PermittedSet(policy, dict(dispatcher.schema.commands)).names
        self._filtered: dict[str, bytes] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.permitted

    def allows_oob(self, name: str) -> bool:
        return name in self.permitted and self.dispatcher.allows_oob(name)

    def call(self, name: str, arguments: dict[str, Any] | None) -> bytes:
        if name not in self.permitted:
            raise CommandError(command_not_found(name), COMMAND_NOT_FOUND)
        if name in (QUERY_COMMANDS, QUERY_QMP_SCHEMA) and not arguments:
            cached = self._filtered.get(name)
            if cached is None:
                cached = self._filtered[name] = self._filter(name, self.dispatcher.call(name, None))
            return cached
        token = _current.set(self)
        try:
            return self.dispatcher.call(name, arguments)
        finally:
            _current.reset(token)

    def _filter(self, name: str, encoded: bytes) -> bytes:
        entries = msgspec.json.decode(encoded)
        if name == QUERY_COMMANDS:
            kept = [entry for entry in entries if entry.get("name") in self.permitted]
        else:
            kept = filter_introspection(entries, self.permitted)
        return msgspec.json.encode(kept)


def filter_introspection(entries: list[dict[str, Any]], commands: frozenset[str]) -> list[Any]:
    """``query-qmp-schema`` entries for a monitor that has only ``commands``.

    Keeps those commands, every event, and the types they reach (as QEMU's introspection
    lists only reachable types), in the original order.
    """
    by_name = {entry["name"]: entry for entry in entries}
    wanted: set[str] = set()
    stack = [
        entry["name"]
        for entry in entries
        if entry["meta-type"] == "event"
        or (entry["meta-type"] == "command" and entry["name"] in commands)
    ]
    while stack:
        name = stack.pop()
        if name in wanted or name not in by_name:
            continue
        wanted.add(name)
        stack.extend(_referenced_types(by_name[name]))
    return [entry for entry in entries if entry["name"] in wanted]


def _referenced_types(entry: dict[str, Any]) -> list[str]:
    names = [entry[key] for key in ("arg-type", "ret-type", "element-type") if key in entry]
    names += [member["type"] for member in entry.get("members", ()) if "type" in member]
    names += [variant["type"] for variant in entry.get("variants", ())]
    return names


# -- who may connect --------------------------------------------------------------------


class PeerRule(NamedTuple):
    """Unix peers allowed in by uid or gid (SO_PEERCRED); both empty: anyone."""

    uids: frozenset[int] = frozenset()
    gids: frozenset[int] = frozenset()

    @property
    def restricted(self) -> bool:
        return bool(self.uids or self.gids)

    def admits(self, uid: int, gid: int) -> bool:
        return not self.restricted or uid in self.uids or gid in self.gids


ANY_PEER = PeerRule()

_UCRED = struct.Struct("3i")


class PeerCredentials(NamedTuple):
    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The pid, uid and gid of the process at the other end of a unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    return PeerCredentials(*_UCRED.unpack(raw))
