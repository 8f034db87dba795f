"""The client half of a generated module: typed events and ``Client``, one ``async def``
per command.

Written by the same :class:`~.python._Writer` as the rest of the module (and so with the
same types): ``Client(qmp)`` wraps anything with :class:`pyqmp.client.QMPClient`'s
``execute`` and ``wait_event``.  Each method takes the command's members as keyword
arguments (Python-safe names, mapped back exactly on the wire by the arguments struct the
server uses too), a ``timeout``, and returns the command's result as the generated types
(decoded by :mod:`.runtime`, so that a newer server's additions never break it).  A
deprecated command is marked for type checkers and warns at run time; an unstable one
warns at run time.  Each event has a struct (its members, and ``NAME``, its wire name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..schema import model
from .names import python_name, python_type_name

if TYPE_CHECKING:
    from .python import _Writer

_CLIENT_OWN_NAMES = frozenset(("qmp", "wait_event", "decode_event"))
_EVENT_OPTIONS = "kw_only=True, dict=True"


def _camel(name: str) -> str:
    """``BALLOON_CHANGE`` -> ``BalloonChange``."""
    return "".join(part.capitalize() for part in name.lower().replace("-", "_").split("_"))


def _has_feature(features: tuple[model.Feature, ...], name: str) -> bool:
    return any(feature.name == name for feature in features)


def event_class_name(event: model.Event, taken: set[str]) -> str:
    name = python_type_name(_camel(event.name) + "Event")
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def emit_events(writer: _Writer) -> None:
    taken = {python_type_name(name) for name in writer.schema.types}
    classes: list[tuple[str, str]] = []
    for event in writer.schema.events.values():
        class_name = event_class_name(event, taken)
        writer.emit("", "", f"class {class_name}(msgspec.Struct, {_EVENT_OPTIONS}):")
        writer.docstring(event.doc, "    ")
        writer.emit(f"    NAME: ClassVar[str] = {event.name!r}")
        writer.emit(*(writer.field_line(member) for member in writer.arguments_of(event.arg_type)))
        classes.append((event.name, class_name))
    writer.emit("", "", "# Each event's name on the wire, and its type.")
    writer.emit("EVENT_TYPES: dict[str, type[Any]] = {")
    writer.emit(*(f"    {name!r}: {cls}," for name, cls in classes))
    writer.emit("}")
    union = " | ".join(cls for _, cls in classes) or "msgspec.Struct"
    writer.emit(f"AnyEvent = {union}")
    writer.emit('_E = TypeVar("_E", bound=msgspec.Struct)')


def emit_client(writer: _Writer) -> None:
    writer.emit("", "", "class Client:")
    writer.emit('    """Typed calls to a server of this schema, through a QMP client (``qmp``)."""')
    writer.emit("")
    writer.emit("    def __init__(self, qmp: _runtime.Executor) -> None:")
    writer.emit("        self.qmp = qmp")
    for command in writer.schema.commands.values():
        if command.name == "qmp_capabilities":
            continue  # negotiated by the client when it connects
        _emit_method(writer, command)
    writer.emit(
        "",
        "    async def wait_event(",
        "        self,",
        "        event_type: type[_E],",
        "        *,",
        "        timeout: float | None = None,",
        "        match: Any = None,",
        "    ) -> _E:",
        '        """The next event of ``event_type`` (that fits ``match``), typed."""',
        "        event = await self.qmp.wait_event(",
        "            event_type.NAME, timeout=timeout, match=match  # type: ignore[attr-defined]",
        "        )",
        "        return cast(_E, _runtime.decode(event.data, event_type))",
        "",
        "    def decode_event(self, event: Any) -> AnyEvent | None:",
        '        """The typed form of a received event; None for an event this schema',
        '        does not have (the event itself is then all there is)."""',
        "        event_type = EVENT_TYPES.get(event.name)",
        "        if event_type is None:",
        "            return None",
        "        return cast(AnyEvent, _runtime.decode(event.data, event_type))",
    )


def _emit_method(writer: _Writer, command: model.Command) -> None:
    method = python_name(command.name)
    if method in _CLIENT_OWN_NAMES:
        method += "_"
    members = [] if command.boxed else writer.arguments_of(command.arg_type)
    member_names = {python_name(member.name) for member in members}
    timeout = "timeout" if "timeout" not in member_names else "qmp_timeout"
    timeout_param = f"{timeout}: float | _runtime.Default | None = _runtime.DEFAULT"
    if command.boxed and command.arg_type:
        params = f", arguments: {writer.type_ref(command.arg_type)}, *, {timeout_param}"
        arguments = "arguments"
    elif members:
        params = writer.parameters(members) + f", {timeout_param}"
        keywords = ", ".join(f"{name}={name}" for name in (python_name(m.name) for m in members))
        arguments = f"_{python_type_name(python_name(command.name))}_arguments({keywords})"
    else:
        params = f", *, {timeout_param}"
        arguments = "None"
    returns = writer.type_ref(command.ret_type) if command.ret_type else "None"
    writer.emit("")
    if _has_feature(command.features, "deprecated"):
        writer.emit(f"    @deprecated({command.name + ' is deprecated'!r})")
    writer.emit(f"    async def {method}(self{params}) -> {returns}:")
    writer.docstring(command.doc, "        ")
    if writer.lines[-1] == "":
        writer.lines.pop()
    if _has_feature(command.features, "unstable"):
        writer.emit(f"        _runtime.warn_unstable({command.name!r})")
    result_type = "None" if command.ret_type is None else returns
    call = f"_runtime.call(self.qmp, {command.name!r}, {arguments}, {result_type}, {timeout})"
    if command.ret_type is None:
        writer.emit(f"        await {call}")
    else:
        writer.emit(f"        return cast({returns}, await {call})")
