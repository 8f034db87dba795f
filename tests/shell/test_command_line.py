"""The shell's line syntax (qmp-shell's): key=value pairs read as JSON where they parse,
nested keys, quoted values, whole JSON requests, and a precise refusal for everything else."""

from __future__ import annotations

import pytest

from pyqmp.shell.command_line import CommandLine, LineError, parse_line, split_words


def test_a_command_alone_has_no_arguments() -> None:
    assert parse_line("query-status") == CommandLine("query-status", None)
    assert parse_line("  query-status  \n") == CommandLine("query-status", None)


def test_blank_and_comment_lines_are_nothing_to_run() -> None:
    assert parse_line("") is None
    assert parse_line("   \n") is None
    assert parse_line("# a comment") is None


def test_values_are_json_where_they_parse_and_strings_otherwise() -> None:
    line = parse_line(
        "cmd int=1 neg=-2 float=1.5 yes=true no=false nothing=null text=hello "
        'path=/machine/peripheral/balloon0 list=[1,2] object={"a":1} quoted="a b"'
    )
    assert line == CommandLine(
        "cmd",
        {
            "int": 1,
            "neg": -2,
            "float": 1.5,
            "yes": True,
            "no": False,
            "nothing": None,
            "text": "hello",
            "path": "/machine/peripheral/balloon0",
            "list": [1, 2],
            "object": {"a": 1},
            "quoted": "a b",
        },
    )


def test_single_quotes_keep_a_string_as_it_is() -> None:
    assert parse_line("cmd a='1 2' b='true'") == CommandLine("cmd", {"a": "1 2", "b": "true"})


def test_an_equals_sign_inside_a_value_stays_in_the_value() -> None:
    assert parse_line("cmd a=b=c") == CommandLine("cmd", {"a": "b=c"})
    assert parse_line("cmd a=") == CommandLine("cmd", {"a": ""})


def test_dotted_keys_build_nested_objects() -> None:
    line = parse_line("blockdev-add driver=null-co node-name=n0 cache.direct=false cache.x.y=1")
    assert line == CommandLine(
        "blockdev-add",
        {"driver": "null-co", "node-name": "n0", "cache": {"direct": False, "x": {"y": 1}}},
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("cmd value", "expected key=value after the command name, not 'value'"),
        ("cmd =1", "expected key=value after the command name, not '=1'"),
        ("cmd a=1 a=2", "'a' is set twice"),
        ("cmd a=1 a.b=2", "'a' is set both to a value and to members"),
        ("cmd a.b=2 a=1", "'a' is set both to a value and to members"),
        ("cmd a..b=1", "empty member name in 'a..b'"),
        ("{not json", "the line starts with '{' but is not JSON"),
        ('{"execute": 1}', "a JSON line needs 'execute' with the command's name as a string"),
        ('{"execute": "x", "arguments": []}', "'arguments' must be a JSON object"),
        ('{"execute": "x", "id": 1}', "a JSON line takes only 'execute' and 'arguments', not 'id'"),
    ],
)
def test_lines_that_are_not_commands_are_refused_precisely(line: str, message: str) -> None:
    with pytest.raises(LineError) as caught:
        parse_line(line)
    assert str(caught.value).startswith(message)


def test_a_json_request_line() -> None:
    line = parse_line('{"execute": "balloon", "arguments": {"value": 1073741824}}')
    assert line == CommandLine("balloon", {"value": 1073741824})
    assert parse_line('{"execute": "stop"}') == CommandLine("stop", None)


def test_words_split_on_blanks_outside_quotes() -> None:
    assert split_words("a b=\"c d\" e='f g'  h") == ["a", 'b="c d"', "e='f g'", "h"]
