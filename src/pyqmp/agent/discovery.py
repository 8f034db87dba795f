"""What the agent may ask a QMP server, found out from the server's own introspection.

QEMU 7.2 and ``pyqmp machine`` answer the same questions differently: pyqmp has the typed
``query-balloon-stats`` (the last statistics with the host's timestamp) and the
fire-and-forget ``balloon-stats-refresh``; QEMU has ``qom-get … guest-stats`` on the
balloon device, which only fills in once ``guest-stats-polling-interval`` is set.  The
agent never assumes which server it talks to: it reads ``query-qmp-schema``, keeps the
names of the few commands it uses, and, where only QOM is there, finds the balloon device
under ``/machine/peripheral`` (or ``-anon``) and enables polling if nobody has.  An
interval someone else set is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, NamedTuple

from ..client import ExecuteError

Call = Callable[[str, Mapping[str, object] | None], Awaitable[Any]]

BALLOON_STATS: Final = "query-balloon-stats"
GUEST_STATS: Final = "guest-stats"

#: The commands the agent may use; introspection is reduced to these.
USED_COMMANDS: Final = frozenset(
    (
        "query-status",
        "query-balloon",
        "query-balloon-stats",
        "balloon-stats-refresh",
        "qom-list",
        "qom-get",
        "qom-set",
    )
)
BALLOON_CONTAINERS: Final = ("/machine/peripheral", "/machine/peripheral-anon")
POLLING_PROPERTY: Final = "guest-stats-polling-interval"
_BALLOON_CHILD = re.compile(r"child<virtio-balloon-[a-z-]{1,32}>")
_QOM_NAME = re.compile(r"[^/\x00-\x1f]{1,128}")


class Capabilities(NamedTuple):
    """What one server offers the agent."""

    commands: frozenset[str]
    stats_source: str | None  # BALLOON_STATS, GUEST_STATS or None (no statistics)
    balloon_path: str | None  # the QOM path of the balloon, for GUEST_STATS
    polling_enabled: bool = False  # the agent set the polling interval


def command_names(schema: object) -> frozenset[str]:
    """The commands of a ``query-qmp-schema`` answer that the agent uses."""
    if not isinstance(schema, list):
        return frozenset()
    found = set()
    for entry in schema:
        if isinstance(entry, dict) and entry.get("meta-type") == "command":
            name = entry.get("name")
            if isinstance(name, str) and name in USED_COMMANDS:
                found.add(name)
    return frozenset(found)


async def discover(call: Call, polling_interval: int) -> Capabilities:
    """Ask the server what it offers; enable QEMU's stats polling where it is off."""
    try:
        commands = command_names(await call("query-qmp-schema", None))
    except ExecuteError:  # a server without introspection: ask it nothing optional
        return Capabilities(frozenset(), None, None)
    if BALLOON_STATS in commands:
        return Capabilities(commands, BALLOON_STATS, None)
    if {"qom-list", "qom-get"} <= commands:
        path = await find_balloon(call)
        if path is not None:
            enabled = False
            interval = await call("qom-get", {"path": path, "property": POLLING_PROPERTY})
            if interval == 0 and "qom-set" in commands:
                await call(
                    "qom-set",
                    {"path": path, "property": POLLING_PROPERTY, "value": polling_interval},
                )
                enabled = True
            return Capabilities(commands, GUEST_STATS, path, enabled)
    return Capabilities(commands, None, None)


async def find_balloon(call: Call) -> str | None:
    """The QOM path of the first virtio balloon device, or None."""
    for container in BALLOON_CONTAINERS:
        try:
            children = await call("qom-list", {"path": container})
        except ExecuteError:
            continue  # no such container on this machine
        if not isinstance(children, list):
            continue
        for child in children:
            if not isinstance(child, dict):
                continue
            name, kind = child.get("name"), child.get("type")
            if (
                isinstance(name, str)
                and isinstance(kind, str)
                and _BALLOON_CHILD.fullmatch(kind)
                and _QOM_NAME.fullmatch(name)
            ):
                return f"{container}/{name}"
    return None
