"""The schema rebuilt from a `query-qmp-schema` answer: masked names named from their uses,
and every malformed answer refused with an error that says which entry and what was
expected (the answer comes from a server: untrusted input)."""

from __future__ import annotations

from typing import Any

import pytest

from pyqmp.schema import model
from pyqmp.schema.from_introspection import IntrospectionError, schema_from_introspection

BASE: list[dict[str, Any]] = [
    {"name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "1"},
    {"name": "STOP", "meta-type": "event", "arg-type": "0"},
    {"name": "0", "meta-type": "object", "members": []},
    {"name": "1", "meta-type": "object", "members": [
        {"name": "running", "type": "bool"},
        {"name": "status", "type": "2"},
        {"name": "cpus", "type": "[int]", "default": None},
    ]},
    {"name": "2", "meta-type": "enum", "values": ["running", "paused"]},
    {"name": "bool", "meta-type": "builtin", "json-type": "boolean"},
    {"name": "int", "meta-type": "builtin", "json-type": "int"},
    {"name": "[int]", "meta-type": "array", "element-type": "int"},
]  # fmt: skip


def rebuild(entries: list[Any]) -> model.Schema:
    return schema_from_introspection(entries, "test")


def test_masked_types_are_named_from_their_uses() -> None:
    schema = rebuild(BASE)
    command = schema.commands["query-status"]
    assert command.arg_type is None and command.ret_type == "QueryStatusResult"
    result = schema.types["QueryStatusResult"]
    assert isinstance(result, model.ObjectType)
    assert [(m.name, m.type, m.optional) for m in result.members] == [
        ("running", "bool", False),
        ("status", "QueryStatusResultStatus", False),
        ("cpus", "intList", True),
    ]
    status = schema.types["QueryStatusResultStatus"]
    assert isinstance(status, model.EnumType)
    assert [m.name for m in status.members] == ["running", "paused"]
    assert "STOP" in schema.events


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"name": "x"}, "the answer must be a list of entries, got dict"),
        ([42], "entry 0: expected an object"),
        ([{"meta-type": "command"}], "entry 0: expected a string 'name', got None"),
        ([{"name": "x", "meta-type": "wormhole"}], "entry 0 ('x'): unknown meta-type 'wormhole'"),
        (
            [{"name": "q", "meta-type": "command", "arg-type": "9", "ret-type": "bool"}],
            "type '9' is used but not described",
        ),
        (
            [*BASE[:3], {"name": "1", "meta-type": "object", "members": "running"}, *BASE[4:]],
            "type '1': expected a list 'members', got str",
        ),
        (
            [*BASE[:3], {"name": "1", "meta-type": "object", "members": [{"name": "a"}]},
             *BASE[4:]],
            "type '1' member 'a': expected a string 'type', got None",
        ),
        (
            [*BASE[:4], {"name": "2", "meta-type": "enum", "values": ["a", 1]}, *BASE[5:]],
            "type '2': enum values must be strings",
        ),
        (
            [*BASE[:5], {"name": "bool", "meta-type": "builtin"}, *BASE[6:],
             {"name": "qbit", "meta-type": "builtin"}],
            "type 'qbit': unknown built-in type",
        ),
        (
            [{**BASE[0], "arg-type": "bool"}, *BASE[1:]],
            "command 'query-status': 'arg-type' must be an object type",
        ),
        (
            [{**BASE[0], "features": "deprecated"}, *BASE[1:]],
            "command 'query-status': 'features' must be a list of strings",
        ),
        (
            [*BASE[:3], {**BASE[3], "tag": "nope", "variants": []}, *BASE[4:]],
            "type '1': 'tag' must name one of its members",
        ),
    ],
)  # fmt: skip
def test_malformed_answers_are_refused_precisely(entries: Any, message: str) -> None:
    with pytest.raises(IntrospectionError) as raised:
        rebuild(entries)
    assert str(raised.value) == message
