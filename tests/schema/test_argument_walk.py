"""The first problem QEMU's input visitor finds in a command's arguments: members in the
schema's order (missing, else the JSON type, recursively), then the unexpected ones; the
same from a schema file and from its introspection rebuilt (what the client has)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyqmp.schema import load_schema
from pyqmp.schema.argument_walk import Problem, first_problem
from pyqmp.schema.from_introspection import schema_from_introspection
from pyqmp.schema.introspect import introspect_schema
from pyqmp.schema.model import Schema

SCHEMA = """
{ 'enum': 'Kind', 'data': [ 'disk', 'net' ] }
{ 'struct': 'Inner', 'data': { 'name': 'str', '*size': 'uint8' } }
{ 'struct': 'Disk', 'data': { 'path': 'str' } }
{ 'struct': 'Net', 'data': { '*mac': 'str' } }
{ 'union': 'Device', 'base': { 'kind': 'Kind', 'id': 'str' }, 'discriminator': 'kind',
  'data': { 'disk': 'Disk', 'net': 'Net' } }
{ 'alternate': 'Either', 'data': { 'n': 'int', 'o': 'Inner' } }
{ 'command': 'add', 'data': { 'first': 'int', 'inner': 'Inner', '*list': [ 'Inner' ],
                              '*ratio': 'number', '*flag': 'bool', '*either': 'Either',
                              '*anything': 'any' } }
{ 'command': 'plug', 'data': 'Device', 'boxed': true }
{ 'command': 'ping' }
"""


@pytest.fixture(scope="module", params=["file", "introspection"])
def schema(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Schema:
    path: Path = tmp_path_factory.mktemp("walk") / "walk.json"
    path.write_text(SCHEMA)
    loaded = load_schema(str(path))
    if request.param == "file":
        return loaded
    return schema_from_introspection(introspect_schema(loaded), "walk")


CASES: list[tuple[str, Any, Problem | None]] = [
    ("ping", None, None),
    ("ping", {"x": 1}, Problem("unexpected", "x")),
    ("add", {"first": 1, "inner": {"name": "a"}}, None),
    ("add", {"first": 1, "inner": {"name": "a", "size": 9}, "either": [1], "anything": {}},
     None),
    # declared order wins over the order given: 'first' is checked before 'x' and 'inner'
    ("add", {"x": 1, "inner": {}}, Problem("missing", "first")),
    ("add", {"inner": 1, "first": "1"}, Problem("type", "first", "integer")),
    ("add", {"first": True, "inner": {}}, Problem("type", "first", "integer")),
    ("add", {"first": 1, "inner": {"x": 1}}, Problem("missing", "inner.name")),
    ("add", {"first": 1, "inner": {"name": "a", "x": 1}, "y": 2},
     Problem("unexpected", "inner.x")),
    ("add", {"first": 1, "inner": {"name": "a"}, "list": [{"name": "b"}, {"name": 2}]},
     Problem("type", "list[1].name", "string")),
    ("add", {"first": 1, "inner": {"name": "a"}, "list": {}}, Problem("type", "list", "array")),
    ("add", {"first": 1, "inner": []}, Problem("type", "inner", "object")),
    ("add", {"first": 1, "inner": {"name": "a"}, "ratio": "x"},
     Problem("type", "ratio", "number")),
    ("add", {"first": 1, "inner": {"name": "a"}, "ratio": 2, "flag": 0},
     Problem("type", "flag", "boolean")),
    ("plug", {"kind": "disk", "id": "d", "path": "/p"}, None),
    ("plug", {"kind": "disk", "id": "d"}, Problem("missing", "path")),
    ("plug", {"kind": "net", "id": "n", "path": "/p"}, Problem("unexpected", "path")),
    ("plug", {"kind": "usb", "id": "u"}, Problem("value", "kind", "usb")),
    ("plug", {"kind": 1, "id": "u"}, Problem("type", "kind", "string")),
]  # fmt: skip


@pytest.mark.parametrize(("command", "arguments", "expected"), CASES)
def test_first_problem_in_qemus_order(
    schema: Schema, command: str, arguments: Any, expected: Problem | None
) -> None:
    problem = first_problem(schema, schema.commands[command].arg_type, arguments)
    assert (problem and problem[:3]) == (expected and expected[:3])
