"""TAB completion from what a server says of itself: command names from query-commands,
argument names and enum values from query-qmp-schema (masked type names, as QEMU sends them),
and the human monitor's commands and info subcommands from its help listings."""

from __future__ import annotations

from typing import Any

from pyqmp.shell.completion import (
    Completion,
    complete_hmp,
    complete_qmp,
    hmp_table,
    qmp_table,
)

COMMANDS = [{"name": "query-status"}, {"name": "query-balloon"}, {"name": "qom-get"}]
COMMANDS += [{"name": "set-action"}, {"name": "stop"}]
SCHEMA: list[dict[str, Any]] = [
    {"name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "1"},
    {"name": "qom-get", "meta-type": "command", "arg-type": "2", "ret-type": "any"},
    {"name": "set-action", "meta-type": "command", "arg-type": "3", "ret-type": "0"},
    {"name": "0", "meta-type": "object", "members": []},
    {"name": "2", "meta-type": "object", "members": [
        {"name": "path", "type": "str"}, {"name": "property", "type": "str"}]},
    {"name": "3", "meta-type": "object", "members": [
        {"name": "reboot", "type": "4", "default": None},
        {"name": "panic", "type": "5", "default": None}]},
    {"name": "4", "meta-type": "enum", "values": ["reset", "shutdown"]},
    {"name": "5", "meta-type": "enum", "values": ["pause", "shutdown", "exit-failure"]},
]  # fmt: skip


def texts(completions: list[Completion]) -> list[str]:
    return [completion.text for completion in completions]


def test_command_names_complete_from_their_prefix() -> None:
    table = qmp_table(COMMANDS, SCHEMA)
    assert complete_qmp(table, "query-statu") == [Completion("query-status", 11)]
    assert texts(complete_qmp(table, "query-")) == ["query-balloon", "query-status"]
    assert texts(complete_qmp(table, "  s")) == ["set-action", "stop"]
    assert len(complete_qmp(table, "")) == len(COMMANDS)
    assert complete_qmp(table, "nothing") == []


def test_argument_names_complete_with_an_equals_sign() -> None:
    table = qmp_table(COMMANDS, SCHEMA)
    assert complete_qmp(table, "qom-get pa") == [Completion("path=", 2)]
    assert texts(complete_qmp(table, "qom-get ")) == ["path=", "property="]
    assert texts(complete_qmp(table, "qom-get path=/machine p")) == ["property="]
    assert complete_qmp(table, "query-status ") == []
    assert complete_qmp(table, "no-such-command ") == []


def test_enum_arguments_complete_their_values() -> None:
    table = qmp_table(COMMANDS, SCHEMA)
    assert complete_qmp(table, "set-action panic=") == [
        Completion("pause", 0),
        Completion("shutdown", 0),
        Completion("exit-failure", 0),
    ]
    assert complete_qmp(table, "set-action reboot=sh") == [Completion("shutdown", 2)]
    assert complete_qmp(table, "qom-get path=") == []


def test_without_a_schema_only_command_names_complete() -> None:
    table = qmp_table(COMMANDS, None)
    assert texts(complete_qmp(table, "qom")) == ["qom-get"]
    assert complete_qmp(table, "qom-get pa") == []


def test_a_json_line_gets_no_completion() -> None:
    assert complete_qmp(qmp_table(COMMANDS, SCHEMA), '{"execute": "q') == []


HELP = """\
balloon target -- request VM to change its memory allocation (in MB)
cont|c  -- resume emulation
info [subcommand] -- show various information about the system state
q|quit  -- quit the emulator
"""
HELP_INFO = """\
info balloon  -- show balloon information
info status  -- show the current VM status (running|paused)
"""


def test_hmp_commands_and_info_subcommands_come_from_help() -> None:
    table = hmp_table(HELP, HELP_INFO)
    assert table.commands == ("balloon", "c", "cont", "info", "q", "quit")
    assert table.info == ("balloon", "status")
    assert complete_hmp(table, "ba") == [Completion("balloon", 2)]
    assert complete_hmp(table, "info sta") == [Completion("status", 3)]
    assert texts(complete_hmp(table, "info ")) == ["balloon", "status"]
    assert complete_hmp(table, "balloon ") == []
