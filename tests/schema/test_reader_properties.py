"""Properties of the reader: it reads back any value written in the QAPI dialect, the fast
path and the exact parser always agree, and no input makes ``load_schema`` raise anything
but :class:`SchemaError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyqmp.schema import SchemaError, load_schema
from pyqmp.schema.fast_reader import plan_fast_parse
from pyqmp.schema.reader import read_schema_file

# Files are rewritten in one tmp_path per test, example after example: that is fine.
SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Printable ASCII but the quote; a backslash is written as the one escape, '\\'.
STRING_CHARS = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "'")
strings = st.text(alphabet=STRING_CHARS, max_size=8)
# Whitespace and plain comments that may sit between any two tokens.  A comment runs to the
# end of its line, so it always brings its newline; it never starts '##' (a doc comment).
separators = st.sampled_from(
    [
        "",
        " ",
        "  ",
        "\n",
        "\t",
        " \n  ",
        "\n\n",
        " # a comment\n",
        "\n# line comment 'x'\n  ",
        "#\n",
    ]
)
values = st.recursive(
    strings | st.booleans(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(strings, children, max_size=4)
    ),
    max_leaves=12,
)
# 'include' and 'pragma' are directives, read rather than returned
top_level_keys = strings.filter(lambda key: key not in ("include", "pragma"))
top_level_values = st.dictionaries(top_level_keys, values, max_size=5)


def quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\") + "'"


@st.composite
def rendered(draw: st.DrawFn, value: Any) -> str:
    """``value`` in QAPI syntax, with random blanks and comments between tokens."""

    def sep() -> str:
        return draw(separators)

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list):
        items = [sep() + draw(rendered(item)) + sep() for item in value]
        return "[" + (",".join(items) if items else sep()) + "]"
    members = [
        sep() + quote(key) + sep() + ":" + sep() + draw(rendered(item)) + sep()
        for key, item in value.items()
    ]
    return "{" + (",".join(members) if members else sep()) + "}"


@st.composite
def schema_files(draw: st.DrawFn) -> tuple[str, list[tuple[dict[str, Any], int]]]:
    """A file of several top-level objects, and each one with the line it starts on."""
    text = draw(separators)
    expected = []
    for value in draw(st.lists(top_level_values, min_size=1, max_size=5)):
        expected.append((value, text.count("\n") + 1))
        text += draw(rendered(value)) + draw(separators) + draw(st.sampled_from([" ", "\n"]))
    return text, expected


def ordered(value: Any) -> Any:
    """``value`` with dicts as item lists, so that comparing also compares key order."""
    if isinstance(value, dict):
        return [(key, ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


def read_back(path: Path, fast_path: bool) -> list[tuple[Any, int]]:
    parsed = read_schema_file(str(path), fast_path)
    return [(ordered(expr[0]), expr[1].line) for expr in parsed.exprs]


@SETTINGS
@given(schema_files())
def test_reader_reads_back_what_was_written(
    tmp_path: Path, file: tuple[str, list[tuple[dict[str, Any], int]]]
) -> None:
    text, expected = file
    path = tmp_path / "values.json"
    path.write_text(text, encoding="utf-8")
    want = [(ordered(value), line) for value, line in expected]
    assert read_back(path, fast_path=True) == want
    assert read_back(path, fast_path=False) == want
    # The fast path must take such files, or the above would hold the exact parser to
    # itself.  It declines double quotes and escapes by design: it must take the file with
    # them replaced, unless that made two keys the same (an error: the exact parser's job).
    plain = text.replace('"', "q").replace("\\", "b")
    path.write_text(plain, encoding="utf-8")
    try:
        read_schema_file(str(path), fast_path=False)
    except SchemaError as err:
        assert "duplicate key" in err.message
    else:
        assert plan_fast_parse(plain) is not None


# -- no crashes, and the two paths agree -----------------------------------------------------

VALID_SCHEMAS = [
    "{ 'enum': 'Colour', 'data': [ 'red', { 'name': 'green', 'if': 'CONFIG_GREEN' } ] }\n"
    "{ 'struct': 'Point', 'data': { 'x': 'int', '*y': 'int8', 'c': 'Colour' } }\n"
    "{ 'command': 'draw', 'data': 'Point', 'returns': 'Point', 'allow-oob': true }\n",
    "##\n# = Drawing\n##\n\n"
    "##\n# @Shape:\n#\n# A shape.\n#\n# @kind: what it is\n#\n"
    "# Features:\n# @fancy: a feature\n#\n# Since: 1.0\n##\n"
    "{ 'union': 'Shape', 'base': { 'kind': 'Kind' }, 'discriminator': 'kind',\n"
    "  'data': { 'square': 'Square' }, 'features': [ 'fancy' ] }\n"
    "##\n# @Kind:\n#\n# @square: a square\n##\n{ 'enum': 'Kind', 'data': [ 'square' ] }\n"
    "##\n# @Square:\n#\n# @size: side\n##\n{ 'struct': 'Square', 'data': { 'size': 'int' } }\n",
    "{ 'alternate': 'Value', 'data': { 'n': 'int', 'b': 'bool' } }  # a comment\n"
    "{ 'event': 'CHANGED', 'data': { 'v': 'Value', '*why': { 'type': 'str' } } }\n"
    "{ 'pragma': { 'doc-required': false } }\n",
]
# Characters a mutation inserts: the language's own, and some that are not.
MUTATION_CHARS = [*"{}[]:,'\"\\#@ \t\n=-_*aZ9", "\r", "\0", "\x0c", "\xe9", "##", "true", "\n##\n"]


@st.composite
def mutated_schemas(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(VALID_SCHEMAS))
    for _ in range(draw(st.integers(1, 6))):
        index = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace"]))
        if action == "delete":
            text = text[:index] + text[index + draw(st.integers(1, 5)) :]
        else:
            end = index + (action == "replace")
            text = text[:index] + draw(st.sampled_from(MUTATION_CHARS)) + text[end:]
    return text


def outcome(path: Path, fast_path: bool) -> str | None:
    """The error text, or None for a valid schema; anything but SchemaError propagates."""
    try:
        load_schema(str(path), fast_path=fast_path)
    except SchemaError as err:
        return str(err)
    return None


def assert_paths_agree(path: Path) -> None:
    assert outcome(path, fast_path=True) == outcome(path, fast_path=False)


@SETTINGS
@given(mutated_schemas())
def test_mutated_schemas_give_schema_errors_alike(tmp_path: Path, text: str) -> None:
    path = tmp_path / "mutant.json"
    path.write_text(text, encoding="utf-8")
    assert_paths_agree(path)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_give_schema_errors_alike(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bytes.json"
    path.write_bytes(data)
    assert_paths_agree(path)


@SETTINGS
@given(st.text(alphabet="{}[]:,'#@ \n\t\\truefals-xyz", max_size=200))
def test_random_qapi_like_text_gives_schema_errors_alike(tmp_path: Path, text: str) -> None:
    path = tmp_path / "text.json"
    path.write_text(text, encoding="utf-8")
    assert_paths_agree(path)


@pytest.mark.parametrize("text", VALID_SCHEMAS)
def test_valid_schemas_are_valid(tmp_path: Path, text: str) -> None:
    # The mutations start from valid schemas, or they would mostly test one early error.
    path = tmp_path / "valid.json"
    path.write_text(text, encoding="utf-8")
    assert outcome(path, fast_path=True) is None
    assert outcome(path, fast_path=False) is None
