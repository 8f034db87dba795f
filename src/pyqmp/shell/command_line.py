"""What a line typed at the shell means: qmp-shell's syntax, with no I/O.

Its one rule: a line is either understood whole or refused with a message saying where and
what was expected; nothing is sent for a line that is refused.  The syntax is qmp-shell's,
which QEMU's users know: ``command key=value key2=value`` (each value read as JSON when it
parses as JSON, as a string otherwise; ``a.b=1`` builds the nested object ``{"a": {"b": 1}}``;
quotes keep spaces in a value), or a whole request as one JSON object
(``{"execute": "balloon", "arguments": {"value": 1073741824}}``).  A blank line or one
starting with ``#`` is nothing to run.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

# A word is a run of anything but blanks, where a quoted part may hold blanks (qmp-shell's rule).
_WORD = re.compile(r"""(?:[^\s"']|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')+""")
_REQUEST_KEYS = frozenset(("execute", "arguments"))


class LineError(ValueError):
    """A line that is not a command; the message says what was expected."""


class CommandLine(NamedTuple):
    """A command to run: its name and its arguments (None: none given)."""

    name: str
    arguments: dict[str, Any] | None


def split_words(line: str) -> list[str]:
    """The line's words: blanks separate them, except inside quotes."""
    return _WORD.findall(line)


def parse_line(line: str) -> CommandLine | None:
    """The command ``line`` asks for, or None for a blank or comment line."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text.startswith("{"):
        return _parse_request(text)
    name, *pairs = split_words(text)
    if not pairs:
        return CommandLine(name, None)
    arguments: dict[str, Any] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise LineError(f"expected key=value after the command name, not {pair!r}")
        _set_member(arguments, key, parse_value(value))
    return CommandLine(name, arguments)


def parse_value(text: str) -> Any:
    """``text`` as JSON when it is JSON (``1``, ``true``, ``"a b"``, ``{"x": 1}``), else the
    text itself."""
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _set_member(arguments: dict[str, Any], key: str, value: Any) -> None:
    path = key.split(".")
    if any(not part for part in path):
        raise LineError(f"empty member name in {key!r}")
    where = arguments
    for depth, part in enumerate(path[:-1]):
        inner = where.setdefault(part, {})
        if not isinstance(inner, dict):
            raise LineError(
                f"'{'.'.join(path[: depth + 1])}' is set both to a value and to members"
            )
        where = inner
    last = path[-1]
    if last in where:
        if isinstance(where[last], dict):
            raise LineError(f"'{key}' is set both to a value and to members")
        raise LineError(f"'{key}' is set twice")
    where[last] = value


def _parse_request(text: str) -> CommandLine:
    try:
        request = json.loads(text)
    except ValueError as error:
        raise LineError(f"the line starts with '{{' but is not JSON: {error}") from None
    if not isinstance(request, dict):
        raise LineError('a JSON line must be one object, {"execute": ...}')
    unknown = sorted(set(request) - _REQUEST_KEYS)
    if unknown:
        raise LineError(
            f"a JSON line takes only 'execute' and 'arguments', not {', '.join(map(repr, unknown))}"
        )
    name = request.get("execute")
    if not isinstance(name, str):
        raise LineError("a JSON line needs 'execute' with the command's name as a string")
    arguments = request.get("arguments")
    if arguments is not None and not isinstance(arguments, dict):
        raise LineError("'arguments' must be a JSON object")
    return CommandLine(name, arguments)
