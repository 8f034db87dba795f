"""The reader (stage one): expressions with their lines, directives, doc comments attached.

Every test runs on both the fast reader and the exact parser.  The last section holds
the corner cases where pyqmp once differed from QEMU's front end (line ends, lexical
errors after a non-object, definitions sharing a line).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyqmp.schema import SchemaError, load_schema
from pyqmp.schema.reader import read_schema_file

PATHS = [pytest.param(True, id="fast"), pytest.param(False, id="exact")]


def write(directory: Path, name: str, text: str | bytes) -> str:
    path = directory / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return name


def error_text(name: str, fast_path: bool) -> str:
    with pytest.raises(SchemaError) as caught:
        load_schema(name, fast_path=fast_path)
    return str(caught.value)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Bare file names, as QEMU's build passes them, so error texts are predictable.
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("fast_path", PATHS)
def test_expressions_and_their_lines(tmp_path: Path, fast_path: bool) -> None:
    text = (
        "# A comment\n"
        "{ 'enum': 'Colour', 'data': [ 'red', 'green' ] }\n"
        "\n"
        "{ 'struct': 'Point',   # trailing comment\n"
        "  'data': { 'x': 'int', 'y': 'int', '*label': 'str' } }\n"
        "  { 'command': 'draw', 'data': 'Point', 'allow-oob': true }\n"
    )
    parsed = read_schema_file(write(tmp_path, "s.json", text), fast_path)
    assert [(expr[0], expr[1].line) for expr in parsed.exprs] == [
        ({"enum": "Colour", "data": ["red", "green"]}, 2),
        ({"struct": "Point", "data": {"x": "int", "y": "int", "*label": "str"}}, 4),
        ({"command": "draw", "data": "Point", "allow-oob": True}, 6),
    ]
    assert all(expr[1].fname == "s.json" for expr in parsed.exprs)
    assert all(expr[2] is None for expr in parsed.exprs)
    assert parsed.docs == []


@pytest.mark.parametrize("fast_path", PATHS)
def test_key_order_is_kept(tmp_path: Path, fast_path: bool) -> None:
    parsed = read_schema_file(
        write(tmp_path, "s.json", "{ 'z': 'a', 'b': { 'y': true, 'a': false }, 'm': [] }\n"),
        fast_path,
    )
    expr = parsed.exprs[0][0]
    assert list(expr) == ["z", "b", "m"]
    assert list(expr["b"]) == ["y", "a"]  # type: ignore[call-overload]


@pytest.mark.parametrize("fast_path", PATHS)
def test_escaped_backslash(tmp_path: Path, fast_path: bool) -> None:
    parsed = read_schema_file(write(tmp_path, "s.json", "{ 'a': 'x\\\\y' }\n"), fast_path)
    assert parsed.exprs[0][0] == {"a": "x\\y"}


@pytest.mark.parametrize("fast_path", PATHS)
def test_include_is_recorded_and_read(tmp_path: Path, fast_path: bool) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/inner.json", "\n{ 'enum': 'Inner', 'data': [] }\n")
    top = write(
        tmp_path, "top.json", "{ 'include': 'sub/inner.json' }\n{ 'include': 'sub/inner.json' }\n"
    )
    parsed = read_schema_file(top, fast_path)
    # an include directive stays in the list (it starts a module); a repeat is not re-read
    assert [(expr[0], expr[1].fname, expr[1].line) for expr in parsed.exprs] == [
        ({"include": "sub/inner.json"}, "top.json", 1),
        ({"enum": "Inner", "data": []}, "sub/inner.json", 2),
        ({"include": "sub/inner.json"}, "top.json", 2),
    ]
    # the included file's position records where it was included from
    parent = parsed.exprs[1][1].parent
    assert parent is not None
    assert (parent.fname, parent.line, parent.parent) == ("top.json", 1, None)


@pytest.mark.parametrize("fast_path", PATHS)
def test_pragma_is_applied_not_recorded(tmp_path: Path, fast_path: bool) -> None:
    text = (
        "{ 'pragma': { 'doc-required': true,\n"
        "              'command-name-exceptions': [ 'odd_name' ] } }\n"
    )
    parsed = read_schema_file(write(tmp_path, "s.json", text), fast_path)
    assert parsed.exprs == []
    assert parsed.pragma.doc_required is True
    assert parsed.pragma.command_name_exceptions == frozenset({"odd_name"})


@pytest.mark.parametrize("fast_path", PATHS)
def test_doc_comment_is_attached_to_the_next_definition(tmp_path: Path, fast_path: bool) -> None:
    text = (
        "##\n# = Title\n##\n\n##\n# @Colour:\n#\n# Colours.\n##\n{ 'enum': 'Colour', 'data': [] }\n"
    )
    parsed = read_schema_file(write(tmp_path, "s.json", text), fast_path)
    assert len(parsed.docs) == 2
    (expr, info, doc) = parsed.exprs[0]
    assert expr == {"enum": "Colour", "data": []}
    assert info.line == 10
    assert doc is parsed.docs[1]
    assert doc is not None
    assert doc.symbol == "Colour"
    assert parsed.docs[0].symbol is None
    assert parsed.docs[0].info.line == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{ 'a': 1 }\n", "s.json:1:8: stray '1'"),
        ("{ 'a': null }\n", "s.json:1:8: stray 'null'"),
        # QEMU notices the duplicate once it is at the value
        ("{ 'a': 'b', 'a': 'c' }\n", "s.json:1:18: duplicate key 'a'"),
        ("{ 'a' 'b' }\n", "s.json:1:7: expected ':'"),
        ("{ 'a': 'b'\n", "s.json:1:11: expected ',' or '}'"),
        ("{ 'a': 'b\n", 's.json:1:8: missing terminating "\'"'),
        ("{ 'a': '\\n' }\n", "s.json:1:8: unknown escape \\n"),
        # (QEMU itself crashes on a double quote)
        ("{ 'a': \"b\" }\n", "s.json:1:8: stray '\"'"),
        ("[ 'a' ]\n", "s.json:1: top-level expression must be an object"),
        # QEMU's tab rule, col = (col + 7) % 8 + 1, is odd; it is what QEMU prints
        ("\t{ 'a': 'b',\t@ }\n", "s.json:1:4: stray '@'"),
        ("{ 'include': 'x.json', 'extra': 'y' }\n", "s.json:1: invalid 'include' directive"),
        ("{ 'include': [] }\n", "s.json:1: value of 'include' must be a string"),
        ("{ 'pragma': 'x' }\n", "s.json:1: value of 'pragma' must be an object"),
        ("{ 'pragma': { 'nope': [] } }\n", "s.json:1: unknown pragma 'nope'"),
        (
            "{ 'pragma': { 'doc-required': 'yes' } }\n",
            "s.json:1: pragma 'doc-required' must be boolean",
        ),
        (
            "##\n# @Foo:\n##\n",
            "s.json:1: documentation for 'Foo' is not followed by the definition",
        ),
        (
            "##\n# free\n##\n{ 'enum': 'Foo', 'data': [] }\n",
            "s.json:1: definition documentation required",
        ),
        ("## x\n##\n", "s.json:1:1: junk after '##' at start of documentation comment"),
        ("##\n# text\n", "s.json:2:7: documentation comment must end with '##'"),
    ],
)
@pytest.mark.parametrize("fast_path", PATHS)
def test_reader_errors(tmp_path: Path, text: str, message: str, fast_path: bool) -> None:
    assert error_text(write(tmp_path, "s.json", text), fast_path) == message


# -- corner cases where pyqmp once differed from QEMU --------------------------------------
#
# QEMU reads schema files in Python's text mode, with universal newlines: '\r\n' and a lone
# '\r' are both line ends.


@pytest.mark.parametrize("fast_path", PATHS)
def test_crlf_doc_comment_is_accepted(tmp_path: Path, fast_path: bool) -> None:
    text = "##\n# @Foo:\n#\n# An enum.\n##\n{ 'enum': 'Foo', 'data': [ 'a' ] }\n"
    crlf = write(tmp_path, "crlf.json", text.replace("\n", "\r\n").encode())
    lf = write(tmp_path, "lf.json", text)
    # actual: "crlf.json:1:1: junk after '##' at start of documentation comment"
    schema = load_schema(crlf, fast_path=fast_path)
    assert [(doc.symbol, doc.body) for doc in schema.docs] == [
        (doc.symbol, doc.body) for doc in load_schema(lf, fast_path=fast_path).docs
    ]


@pytest.mark.parametrize("fast_path", PATHS)
def test_lone_cr_ends_a_line(tmp_path: Path, fast_path: bool) -> None:
    name = write(
        tmp_path,
        "cr.json",
        b"{ 'enum': 'Foo',\r 'data': [ 'a' ] }\r{ 'enum': 'Bar',\r 'data': 'x' }\r",
    )
    # QEMU: line 3; actual: "cr.json:1: 'data' must be an array"
    assert (
        error_text(name, fast_path) == "cr.json: In enum 'Bar':\ncr.json:3: 'data' must be an array"
    )


@pytest.mark.parametrize("fast_path", PATHS)
def test_cr_in_a_string_is_an_unterminated_string(tmp_path: Path, fast_path: bool) -> None:
    name = write(tmp_path, "cr.json", b"{ 'enum': 'A\rB', 'data': [] }\n")
    # actual: "cr.json:1:11: funny character in string"
    assert error_text(name, fast_path) == 'cr.json:1:11: missing terminating "\'"'


# QEMU reads the token after every value as soon as the value ends, so a lexical error just
# after a top-level value that is not an object is reported before "must be an object".


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("'-f' we reject\n", "s.json:1:6: stray 'we'"),
        ("[ 'a' ] 'open\n", 's.json:1:9: missing terminating "\'"'),
        ("true\n@\n", "s.json:2:1: stray '@'"),
    ],
    ids=["string", "array", "bool"],
)
@pytest.mark.parametrize("fast_path", PATHS)
def test_lexical_error_after_top_level_non_object(
    tmp_path: Path, text: str, message: str, fast_path: bool
) -> None:
    # actual: "s.json:1: top-level expression must be an object"
    assert error_text(write(tmp_path, "s.json", text), fast_path) == message


# QEMU gives every expression that starts on the same line one shared source-position
# object, and naming a definition renames that object: an error about an earlier expression
# on the line is reported "In" the later definition, and one about a later expression that
# has no name yet "In" the earlier one.


@pytest.mark.parametrize("fast_path", PATHS)
def test_two_definitions_on_one_line_share_their_context(tmp_path: Path, fast_path: bool) -> None:
    name = write(
        tmp_path, "s.json", "{ 'struct': 'Foo', 'data': {} } { 'enum': 'Foo', 'data': [] }\n"
    )
    # actual: the second context line is "s.json: In struct 'Foo':"
    assert error_text(name, fast_path) == (
        "s.json: In enum 'Foo':\ns.json:1: 'Foo' is already defined\n"
        "s.json: In enum 'Foo':\ns.json:1: previous definition"
    )


@pytest.mark.parametrize("fast_path", PATHS)
def test_unnamed_expression_after_a_definition_on_one_line(tmp_path: Path, fast_path: bool) -> None:
    name = write(tmp_path, "s.json", "{ 'struct': 'Foo', 'data': {} } { 'bogus': 'Bar' }\n")
    # actual: no "In struct 'Foo':" context line
    assert error_text(name, fast_path) == (
        "s.json: In struct 'Foo':\ns.json:1: expression must have exactly one key "
        "'enum', 'struct', 'union', 'alternate', 'command', 'event'"
    )
