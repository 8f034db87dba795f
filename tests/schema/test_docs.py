"""Doc comments: how ``##`` blocks are split into body, members, features and sections.

Through :func:`load_schema`, on both reader paths: the result is the frozen
:class:`~pyqmp.schema.model.Doc` of each block, which must hold the texts QEMU's doc parser
finds (``tests/qapi-schema/doc-good.out`` is QEMU's own record of them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyqmp.schema import SchemaError, load_schema
from pyqmp.schema.model import Doc

PATHS = [pytest.param(True, id="fast"), pytest.param(False, id="exact")]

SCHEMA = """\
##
# = Colours and painting
#
# Some prose about *colours*.
#
# == A subsection
##

##
# @Colour:
#
# A colour.
#
# @red: the red one
#
# @green: the green one,
#         continued
#
# Features:
#
# @my-feature: not yet stable
#
# Since: 7.2
##
{ 'enum': 'Colour', 'data': [ 'red', 'green', 'blue' ],
  'features': [ 'my-feature' ] }

##
# @paint:
#
# Paint something.
#
# @colour: which colour
#
# Returns: the previous colour
#
# Since: 7.2
#
# Note: this is a note.
#
# Example:
#
# -> { "execute": "paint", "arguments": { "colour": "red" } }
# <- { "return": "blue" }
##
{ 'command': 'paint', 'data': { 'colour': 'Colour' }, 'returns': 'Paint' }

##
# @Paint:
#
# @previous: the colour before
##
{ 'struct': 'Paint', 'data': { 'previous': 'Colour', '*undocumented': 'int' } }
"""


def load_text(directory: Path, text: str, fast_path: bool) -> tuple[Doc, ...]:
    path = directory / "docs.json"
    path.write_text(text, encoding="utf-8")
    return load_schema(str(path), fast_path=fast_path).docs


@pytest.mark.parametrize("fast_path", PATHS)
def test_free_form_doc_with_headings(tmp_path: Path, fast_path: bool) -> None:
    docs = load_text(tmp_path, SCHEMA, fast_path)
    # A second heading starts a second block, as in QEMU.
    assert [(doc.symbol, doc.body) for doc in docs[:2]] == [
        (None, "= Colours and painting\n\nSome prose about *colours*."),
        (None, "== A subsection"),
    ]
    assert docs[0].info.line == 1
    assert docs[1].info.line == 1  # both come from the block opened on line 1
    assert docs[0].members == {}
    assert docs[0].sections == ()


@pytest.mark.parametrize("fast_path", PATHS)
def test_definition_doc_with_members_features_and_sections(tmp_path: Path, fast_path: bool) -> None:
    colour = load_text(tmp_path, SCHEMA, fast_path)[2]
    assert colour.symbol == "Colour"
    assert colour.info.line == 9
    assert colour.body == "A colour."
    # an undocumented value gets an empty description, after the documented ones
    assert list(colour.members.items()) == [
        ("red", "the red one"),
        ("green", "the green one,\ncontinued"),
        ("blue", ""),
    ]
    assert dict(colour.features) == {"my-feature": "not yet stable"}
    assert colour.sections == (("Since", "7.2"),)


@pytest.mark.parametrize("fast_path", PATHS)
def test_command_doc_with_tagged_sections(tmp_path: Path, fast_path: bool) -> None:
    paint = load_text(tmp_path, SCHEMA, fast_path)[3]
    assert paint.symbol == "paint"
    assert paint.body == "Paint something."
    assert dict(paint.members) == {"colour": "which colour"}
    assert paint.features == {}
    assert paint.sections == (
        ("Returns", "the previous colour"),
        ("Since", "7.2"),
        ("Note", "this is a note."),
        (
            "Example",
            '-> { "execute": "paint", "arguments": { "colour": "red" } }\n<- { "return": "blue" }',
        ),
    )


@pytest.mark.parametrize("fast_path", PATHS)
def test_docs_are_attached_to_their_definitions(tmp_path: Path, fast_path: bool) -> None:
    path = tmp_path / "docs.json"
    path.write_text(SCHEMA, encoding="utf-8")
    schema = load_schema(str(path), fast_path=fast_path)
    assert schema.types["Colour"].doc == schema.docs[2]  # type: ignore[union-attr]
    assert schema.commands["paint"].doc == schema.docs[3]
    paint = schema.types["Paint"]
    assert paint.doc is not None  # type: ignore[union-attr]
    assert dict(paint.doc.members) == {  # type: ignore[union-attr]
        "previous": "the colour before",
        "undocumented": "",
    }
    # the command's implicit argument type has no doc of its own
    assert schema.types["q_obj_paint-arg"].doc is None  # type: ignore[union-attr]


def render_like_qemu_test(docs: tuple[Doc, ...]) -> str:
    """The docs as QEMU's schema test runner prints them (the end of its ``.out`` files)."""
    lines = []
    for doc in docs:
        lines.append(f"doc symbol={doc.symbol}" if doc.symbol else "doc freeform")
        lines.append(f"    body=\n{doc.body}")
        lines.extend(f"    arg={name}\n{text}" for name, text in doc.members.items())
        lines.extend(f"    feature={name}\n{text}" for name, text in doc.features.items())
        lines.extend(f"    section={name}\n{text}" for name, text in doc.sections)
    return "".join(line + "\n" for line in lines)


@pytest.mark.parametrize("fast_path", PATHS)
def test_doc_good_matches_qemus_record(
    qemu_source: Path, monkeypatch: pytest.MonkeyPatch, fast_path: bool
) -> None:
    suite = qemu_source / "tests" / "qapi-schema"
    out = (suite / "doc-good.out").read_text(encoding="utf-8")
    expected = out[out.index("\ndoc ") + 1 :]
    monkeypatch.chdir(suite)
    docs = load_schema("doc-good.json", fast_path=fast_path).docs
    assert render_like_qemu_test(docs) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "##\n# @Foo\n##\n{ 'enum': 'Foo', 'data': [] }\n",
            "docs.json:2:1: line should end with ':'",
        ),
        ("##\n#Foo\n##\n", "docs.json:2:1: missing space after #"),
        (
            "##\n# @Foo:\n# @a: x\n# @a: y\n##\n{ 'enum': 'Foo', 'data': [ 'a' ] }\n",
            "docs.json:4:1: 'a' parameter name duplicated",
        ),
        (
            "##\n# @Foo:\n# @b: x\n##\n{ 'enum': 'Foo', 'data': [ 'a' ] }\n",
            "docs.json:1: documented member 'b' does not exist",
        ),
        (
            "##\n# @Foo:\n# Returns: x\n##\n{ 'enum': 'Foo', 'data': [] }\n",
            "docs.json:1: 'Returns:' is only valid for commands",
        ),
        (
            "##\n# @Foo:\n# = Heading\n##\n{ 'enum': 'Foo', 'data': [] }\n",
            "docs.json:3:1: unexpected '=' markup in definition documentation",
        ),
        (
            "##\n# @Foo:\n# Since:\n##\n{ 'enum': 'Foo', 'data': [] }\n",
            "docs.json:4:1: empty doc section 'Since'",
        ),
        (
            "##\n# @Foo:\n# Since: 1\n# Since: 2\n##\n{ 'enum': 'Foo', 'data': [] }\n",
            "docs.json:4:1: duplicated 'Since' section",
        ),
        (
            "##\n# @Foo:\n# Since: 1\n# @a: x\n##\n{ 'enum': 'Foo', 'data': [ 'a' ] }\n",
            "docs.json:4:1: '@a:' can't follow 'Since' section",
        ),
        (
            "##\n# @foo:\n# @a: one\n#    two\n##\n{ 'command': 'foo', 'data': { 'a': 'int' } }\n",
            "docs.json:4:1: unexpected de-indent (expected at least 4 spaces)",
        ),
        (
            "##\n# @Foo:\n##\n{ 'enum': 'Foo', 'data': [], 'features': [ 'f' ] }\n",
            "docs.json: In enum 'Foo':\ndocs.json:4: feature 'f' lacks documentation",
        ),
        (
            "##\n# Prose\n# @foo: bar\n##\n",
            "docs.json:3:1: '@foo:' not allowed in free-form documentation",
        ),
        ("##\n# @:\n##\n", "docs.json:2:1: name required after '@'"),
    ],
)
@pytest.mark.parametrize("fast_path", PATHS)
def test_doc_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str, fast_path: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs.json").write_text(text, encoding="utf-8")
    with pytest.raises(SchemaError) as caught:
        load_schema("docs.json", fast_path=fast_path)
    assert str(caught.value) == message


# A member header with a blank other than a space in it ('@a\tb:'): the doc reader finds
# a header by splitting on spaces, then fails to match it and crashes with AttributeError
# in docs.DocBlock._symbol_header.  (QEMU crashes too, with an AssertionError, so there is
# no message to copy; any SchemaError on line 4 is right.)
@pytest.mark.parametrize(
    "header", ["@\t:", "@a\tb:", "@a\x0cb:"], ids=["tab", "tab-in-name", "form-feed"]
)
@pytest.mark.parametrize("fast_path", PATHS)
def test_blank_inside_a_member_header_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, header: str, fast_path: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    text = f"##\n# @Foo:\n#\n# {header} text\n##\n{{ 'enum': 'Foo', 'data': [] }}\n"
    (tmp_path / "docs.json").write_text(text, encoding="utf-8")
    with pytest.raises(SchemaError) as caught:
        load_schema("docs.json", fast_path=fast_path)
    assert caught.value.line == 4
