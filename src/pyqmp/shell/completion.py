"""What TAB offers: command names, argument names and enum values, with no I/O.

The tables are built once from what the server says of itself — ``query-commands`` and
``query-qmp-schema`` in QMP mode, the human monitor's ``help`` and ``help info`` listings in
HMP mode — and :func:`complete` answers from them for the text before the cursor.  Its one
rule: it offers only what the server said; a server that says nothing gets no completion,
never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .command_line import split_words


class Completion(NamedTuple):
    """Replace the last ``replace`` characters before the cursor with ``text``."""

    text: str
    replace: int


class QMPTable(NamedTuple):
    """Commands, each command's argument names, and the values of enum arguments."""

    commands: tuple[str, ...]
    arguments: Mapping[str, tuple[str, ...]]
    enum_values: Mapping[tuple[str, str], tuple[str, ...]]


class HMPTable(NamedTuple):
    """The human monitor's commands and ``info``'s subcommands."""

    commands: tuple[str, ...]
    info: tuple[str, ...]


EMPTY_QMP = QMPTable((), {}, {})


def qmp_table(commands: Iterable[Mapping[str, Any]], schema: Sequence[Any] | None) -> QMPTable:
    """The table from ``query-commands``' answer and ``query-qmp-schema``'s (None: not
    asked, or refused — then no argument names)."""
    names = tuple(sorted({str(entry["name"]) for entry in commands if "name" in entry}))
    if not schema:
        return QMPTable(names, {}, {})
    entities = {entry.get("name"): entry for entry in schema if isinstance(entry, dict)}
    arguments: dict[str, tuple[str, ...]] = {}
    enum_values: dict[tuple[str, str], tuple[str, ...]] = {}
    for entry in schema:
        if not isinstance(entry, dict) or entry.get("meta-type") != "command":
            continue
        command = str(entry.get("name"))
        arg_type = entities.get(entry.get("arg-type"), {})
        members = [m for m in arg_type.get("members", ()) if isinstance(m, dict) and "name" in m]
        arguments[command] = tuple(str(member["name"]) for member in members)
        for member in members:
            member_type = entities.get(member.get("type"), {})
            if member_type.get("meta-type") == "enum":
                enum_values[(command, str(member["name"]))] = tuple(
                    str(value) for value in member_type.get("values", ())
                )
    return QMPTable(names, arguments, enum_values)


def hmp_table(help_text: str, info_text: str) -> HMPTable:
    """The table from the human monitor's ``help`` and ``help info`` answers, whose lines
    start with the command's name (``q|quit``, ``info balloon  -- show ...``)."""
    commands: set[str] = set()
    for line in help_text.splitlines():
        words = line.split()
        if words:
            commands.update(name for name in words[0].split("|") if name)
    info: set[str] = set()
    for line in info_text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "info":
            info.update(name for name in words[1].split("|") if name)
    return HMPTable(tuple(sorted(commands)), tuple(sorted(info)))


def _starting(candidates: Iterable[str], prefix: str, suffix: str = "") -> list[Completion]:
    return [
        Completion(candidate + suffix, len(prefix))
        for candidate in candidates
        if candidate.startswith(prefix)
    ]


def _current_words(before_cursor: str) -> tuple[list[str], str]:
    """The complete words before the cursor, and the word being typed ('' after a blank)."""
    words = split_words(before_cursor)
    if words and not before_cursor[-1:].isspace():
        return words[:-1], words[-1]
    return words, ""


def complete_qmp(table: QMPTable, before_cursor: str) -> list[Completion]:
    """What may follow ``before_cursor`` in QMP mode."""
    if before_cursor.lstrip().startswith("{"):
        return []
    done, word = _current_words(before_cursor)
    if not done:
        return _starting(table.commands, word)
    command = done[0]
    key, equals, value = word.partition("=")
    if equals:
        return _starting(table.enum_values.get((command, key), ()), value)
    given = {pair.partition("=")[0] for pair in done[1:]}
    names = [name for name in table.arguments.get(command, ()) if name not in given]
    return _starting(names, word, "=")


def complete_hmp(table: HMPTable, before_cursor: str) -> list[Completion]:
    """What may follow ``before_cursor`` in HMP mode."""
    done, word = _current_words(before_cursor)
    if not done:
        return _starting(table.commands, word)
    if done == ["info"]:
        return _starting(table.info, word)
    return []
