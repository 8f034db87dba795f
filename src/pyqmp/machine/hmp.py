"""The human monitor (HMP) commands that map onto this machine.

Each HMP command parses its words and calls the machine's typed QMP methods — the
same functions the QMP dispatcher calls — then formats the result as QEMU 7.2's HMP
prints it (lines end in CR LF on the QMP passthrough, as QEMU's do).  Each names the
QMP command it runs, and exists on a monitor only if that monitor may run that QMP
command (a read-only monitor's HMP has ``info`` and no ``stop``): the monitor's policy
and the schema's ``read-only`` feature decide, never a list here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..server.access import current_policy_permits
from ..server.errors import CommandError
from .machine import PAUSED, Machine

HmpHandler = Callable[[Machine, list[str]], str]


def _lines(*lines: str) -> str:
    return "".join(line + "\r\n" for line in lines)


def _info_status(machine: Machine, args: list[str]) -> str:
    info = machine.query_status()
    text = "VM status: " + ("running" if info.running else "paused")
    if not info.running and info.status != PAUSED:
        text += f" ({info.status})"
    return _lines(text)


def _info_balloon(machine: Machine, args: list[str]) -> str:
    return _lines(f"balloon: actual={machine.query_balloon().actual >> 20}")


def _info_version(machine: Machine, args: list[str]) -> str:
    version = machine.query_version()
    qemu = version.qemu
    return _lines(f"{qemu.major}.{qemu.minor}.{qemu.micro}{version.package}")


def _info_name(machine: Machine, args: list[str]) -> str:
    name = machine.query_name().name
    return _lines(name) if isinstance(name, str) else ""


def _info_uuid(machine: Machine, args: list[str]) -> str:
    return _lines(machine.query_uuid().UUID)


class HmpCommand(NamedTuple):
    """An HMP command: ``names`` as QEMU lists them (``cont|c``), for ``help``; ``qmp`` is
    the QMP command it runs (None: it only shows HMP's own tables)."""

    names: str
    params: str
    help: str
    handler: HmpHandler
    qmp: str | None


def _available(commands: tuple[HmpCommand, ...]) -> tuple[HmpCommand, ...]:
    # What this monitor's policy leaves (all of them on a full monitor).
    return tuple(c for c in commands if c.qmp is None or current_policy_permits(c.qmp))


INFO_COMMANDS = (
    HmpCommand("balloon", "", "show balloon information", _info_balloon, "query-balloon"),
    HmpCommand("name", "", "show the current VM name", _info_name, "query-name"),
    HmpCommand(
        "status", "", "show the current VM status (running|paused)", _info_status, "query-status"
    ),
    HmpCommand("uuid", "", "show the current VM UUID", _info_uuid, "query-uuid"),
    HmpCommand("version", "", "show the version of QEMU", _info_version, "query-version"),
)


def _help_lines(commands: tuple[HmpCommand, ...], prefix: str = "") -> str:
    # QEMU's format: "name params -- help"; qmp-shell completes from these lines
    return _lines(*(f"{prefix}{c.names} {c.params} -- {c.help}" for c in _available(commands)))


def _lookup(commands: tuple[HmpCommand, ...], name: str) -> HmpCommand | None:
    return next((c for c in _available(commands) if name in c.names.split("|")), None)


def _info(machine: Machine, args: list[str]) -> str:
    if not args:
        return _help_lines(INFO_COMMANDS, "info ")
    command = _lookup(INFO_COMMANDS, args[0])
    if command is None:
        return _lines(f"unknown command: 'info {args[0]}'")
    return command.handler(machine, args[1:])


def _balloon(machine: Machine, args: list[str]) -> str:
    if not args:
        return _lines("unexpected end of expression", 'Try "help balloon" for more information')
    if len(args) > 1:
        return _lines("balloon: extraneous characters at the end of line")
    try:
        megabytes = int(args[0], 0)
    except ValueError:
        return _lines(f"Error: invalid size '{args[0]}'")
    machine.balloon(value=megabytes << 20)
    return ""


def _no_arguments(method: Callable[[Machine], None]) -> HmpHandler:
    def handler(machine: Machine, args: list[str]) -> str:
        method(machine)
        return ""

    return handler


def _help(machine: Machine, args: list[str]) -> str:
    if not args:
        return _help_lines(COMMANDS)
    if args[0] == "info":
        return _help_lines(INFO_COMMANDS, "info ")
    command = _lookup(COMMANDS, args[0])
    if command is None:
        return _lines(f"unknown command: '{args[0]}'")
    return _help_lines((command,))


COMMANDS = (
    HmpCommand(
        "balloon",
        "target",
        "request VM to change its memory allocation (in MB)",
        _balloon,
        "balloon",
    ),
    HmpCommand("cont|c", "", "resume emulation", _no_arguments(Machine.cont), "cont"),
    HmpCommand("help|?", "[cmd]", "show the help", _help, None),
    HmpCommand(
        "info", "[subcommand]", "show various information about the system state", _info, None
    ),
    HmpCommand("quit|q", "", "quit the emulator", _no_arguments(Machine.quit), "quit"),
    HmpCommand("stop|s", "", "stop emulation", _no_arguments(Machine.stop), "stop"),
    HmpCommand(
        "system_powerdown",
        "",
        "send system power down event",
        _no_arguments(Machine.system_powerdown),
        "system_powerdown",
    ),
    HmpCommand(
        "system_reset",
        "",
        "reset the system",
        _no_arguments(Machine.system_reset),
        "system_reset",
    ),
)


class HumanMonitor:
    """Runs HMP command lines against a machine."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine

    def run(self, command_line: str) -> str:
        words = command_line.split()
        if not words:
            return ""
        command = _lookup(COMMANDS, words[0])
        if command is None:
            return _lines(f"unknown command: '{words[0]}'")
        try:
            return command.handler(self.machine, words[1:])
        except CommandError as error:
            return _lines(f"Error: {error.desc}")
