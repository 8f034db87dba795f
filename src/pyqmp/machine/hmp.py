"""The human monitor (HMP) commands that map onto this machine.

Each HMP command parses its words and calls the machine's typed QMP methods — the
same functions the QMP dispatcher calls — then formats the result as QEMU 7.2's HMP
prints it (lines end in CR LF on the QMP passthrough, as QEMU's do).
"""

from __future__ import annotations

from collections.abc import Callable

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


INFO_COMMANDS: dict[str, HmpHandler] = {
    "status": _info_status,
    "balloon": _info_balloon,
    "version": _info_version,
    "name": _info_name,
    "uuid": _info_uuid,
}


def _info(machine: Machine, args: list[str]) -> str:
    if not args:
        return _lines(*(f"info {name}" for name in INFO_COMMANDS))
    handler = INFO_COMMANDS.get(args[0])
    if handler is None:
        return _lines(f"unknown command: 'info {args[0]}'")
    return handler(machine, args[1:])


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


COMMANDS: dict[str, HmpHandler] = {
    "info": _info,
    "i": _info,
    "balloon": _balloon,
    "stop": _no_arguments(Machine.stop),
    "cont": _no_arguments(Machine.cont),
    "c": _no_arguments(Machine.cont),
    "system_reset": _no_arguments(Machine.system_reset),
    "system_powerdown": _no_arguments(Machine.system_powerdown),
    "quit": _no_arguments(Machine.quit),
    "q": _no_arguments(Machine.quit),
}


class HumanMonitor:
    """Runs HMP command lines against a machine."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine

    def command_names(self) -> list[str]:
        return sorted(COMMANDS) + [f"info {name}" for name in sorted(INFO_COMMANDS)]

    def run(self, command_line: str) -> str:
        words = command_line.split()
        if not words:
            return ""
        handler = COMMANDS.get(words[0])
        if handler is None:
            return _lines(f"unknown command: '{words[0]}'")
        try:
            return handler(self.machine, words[1:])
        except CommandError as error:
            return _lines(f"Error: {error.desc}")
