"""Expression checks (stage two) and whole-schema checks (stage three), through
:func:`load_schema`: the first error QEMU reports, with its context line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyqmp.schema import SchemaError, load_schema

PATHS = [pytest.param(True, id="fast"), pytest.param(False, id="exact")]


def error_text(directory: Path, text: str, fast_path: bool) -> str:
    (directory / "s.json").write_text(text, encoding="utf-8")
    with pytest.raises(SchemaError) as caught:
        load_schema("s.json", fast_path=fast_path)
    return str(caught.value)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{ 'struct': 'Foo', 'data': [ 'int' ] }\n",
            "s.json: In struct 'Foo':\ns.json:1: 'data' cannot be an array",
        ),
        (
            "{ 'command': 'go', 'data': { 'a': 'int' }, 'boxed': true }\n",
            "s.json: In command 'go':\ns.json:1: 'data' should be a type name",
        ),
        (
            "{ 'event': 'EV', 'data': 'Nope' }\n",
            "s.json: In event 'EV':\ns.json:1: event's 'data' uses unknown type 'Nope'",
        ),
        (
            "{ 'command': 'go', 'returns': 'int' }\n",
            "s.json: In command 'go':\n"
            "s.json:1: command's 'returns' cannot take built-in type 'int'",
        ),
        (
            "{ 'struct': 'Foo', 'data': { 'has-a': 'int' } }\n",
            "s.json: In struct 'Foo':\ns.json:1: 'data' member 'has-a' uses reserved name",
        ),
        (
            "{ 'struct': 'Foo', 'data': { 'a': 'int' }, 'bogus': true }\n",
            "s.json: In struct 'Foo':\ns.json:1: struct has unknown key 'bogus'\n"
            "Valid keys are 'base', 'data', 'features', 'if', 'struct'.",
        ),
        (
            "{ 'enum': 'Foo', 'data': [ 'a' ], 'if': { 'all': [] } }\n",
            "s.json: In enum 'Foo':\ns.json:1: 'if' condition [] of enum is useless",
        ),
        (
            "{ 'struct': 'Foo', 'data': {} }\n{ 'enum': 'Foo', 'data': [] }\n",
            "s.json: In enum 'Foo':\ns.json:2: 'Foo' is already defined\n"
            "s.json: In struct 'Foo':\ns.json:1: previous definition",
        ),
        (
            "{ 'struct': 'Foo', 'base': 'Foo', 'data': {} }\n",
            "s.json: In struct 'Foo':\ns.json:1: object Foo contains itself",
        ),
        (
            "{ 'alternate': 'Alt', 'data': { 'a': 'int', 'b': 'number' } }\n",
            "s.json: In alternate 'Alt':\ns.json:1: branch 'b' can't be distinguished from 'a'",
        ),
    ],
)
@pytest.mark.parametrize("fast_path", PATHS)
def test_first_error_as_qemu_reports_it(
    tmp_path: Path, text: str, message: str, fast_path: bool
) -> None:
    assert error_text(tmp_path, text, fast_path) == message


# A struct's 'data' must be an object; a type name there passes the expression checks (as in
# QEMU 7.2, which then crashes too) and the builder calls .items() on the string:
# AttributeError in builder.make_members.  Any SchemaError naming 'data' is right.
@pytest.mark.parametrize("data", ["'Bar'", "'int'"])
@pytest.mark.parametrize("fast_path", PATHS)
def test_struct_data_that_is_a_type_name(tmp_path: Path, data: str, fast_path: bool) -> None:
    text = f"{{ 'struct': 'Bar', 'data': {{}} }}\n{{ 'struct': 'Foo', 'data': {data} }}\n"
    message = error_text(tmp_path, text, fast_path)
    assert message.startswith("s.json: In struct 'Foo':\ns.json:2: ")
    assert "'data'" in message
