"""Introspection (``query-qmp-schema``) of a small schema that touches every feature: shapes of
the SchemaInfo objects, masking, ``if`` conditions decided by ``defines``, integer folding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyqmp.schema import load_schema
from pyqmp.schema.introspect import introspect_schema
from pyqmp.schema.model import Schema

SRC = Path(__file__).resolve().parents[2] / "src"

SCHEMA = """\
{ 'enum': 'Mode', 'data': [ 'fast', { 'name': 'slow', 'if': 'CONFIG_SLOW' },
                            { 'name': 'old', 'features': [ 'deprecated' ] } ] }
{ 'struct': 'Settings',
  'data': { 'mode': 'Mode', '*level': 'int8', 'sizes': [ 'uint16' ],
            'debug': { 'type': 'bool', 'if': 'CONFIG_DEBUG' },
            'name': { 'type': 'str', 'features': [ 'unstable' ] } } }
{ 'struct': 'Extra', 'data': { 'count': 'size' }, 'if': 'CONFIG_EXTRA',
  'features': [ 'my-feature' ] }
{ 'union': 'Shape', 'base': { 'kind': 'Mode' }, 'discriminator': 'kind',
  'data': { 'fast': 'Settings', 'slow': { 'type': 'Settings', 'if': 'CONFIG_SLOW' } } }
{ 'alternate': 'Value', 'data': { 'n': 'int32', 's': 'Settings' } }
{ 'command': 'configure',
  'data': { 'settings': 'Settings', '*shape': 'Shape', '*v': 'Value' },
  'returns': 'Settings', 'allow-oob': true, 'features': [ 'deprecated' ] }
{ 'command': 'extra', 'data': 'Extra', 'if': { 'all': [ 'CONFIG_EXTRA', 'CONFIG_DEBUG' ] } }
{ 'command': 'ping' }
{ 'event': 'CHANGED', 'data': { 'old': 'Mode' }, 'if': { 'not': 'CONFIG_QUIET' } }
"""

SETTINGS_MEMBERS = [
    {"name": "mode", "type": "Mode"},
    {"name": "level", "type": "int", "default": None},
    {"name": "sizes", "type": "[int]"},
    {"name": "name", "type": "str", "features": ["unstable"]},
]
# Unmasked, nothing defined.  Commands and events first, in schema order, then the types in
# order of first use; the always-false conditions have removed 'extra', 'Extra', 'slow' and
# 'debug'.
EXPECTED = [
    {
        "name": "configure",
        "meta-type": "command",
        "arg-type": "q_obj_configure-arg",
        "ret-type": "Settings",
        "allow-oob": True,
        "features": ["deprecated"],
    },
    {"name": "ping", "meta-type": "command", "arg-type": "q_empty", "ret-type": "q_empty"},
    {"name": "CHANGED", "meta-type": "event", "arg-type": "q_obj_CHANGED-arg"},
    {
        "name": "q_obj_configure-arg",
        "meta-type": "object",
        "members": [
            {"name": "settings", "type": "Settings"},
            {"name": "shape", "type": "Shape", "default": None},
            {"name": "v", "type": "Value", "default": None},
        ],
    },
    {"name": "Settings", "meta-type": "object", "members": SETTINGS_MEMBERS},
    {"name": "q_empty", "meta-type": "object", "members": []},
    {
        "name": "q_obj_CHANGED-arg",
        "meta-type": "object",
        "members": [{"name": "old", "type": "Mode"}],
    },
    {
        "name": "Shape",
        "meta-type": "object",
        "members": [{"name": "kind", "type": "Mode"}],
        "tag": "kind",
        # a value without a branch gets an empty one, after the written ones
        "variants": [{"case": "fast", "type": "Settings"}, {"case": "old", "type": "q_empty"}],
    },
    {"name": "Value", "meta-type": "alternate", "members": [{"type": "int"}, {"type": "Settings"}]},
    {
        "name": "Mode",
        "meta-type": "enum",
        "members": [{"name": "fast"}, {"name": "old", "features": ["deprecated"]}],
        "values": ["fast", "old"],
    },
    {"name": "int", "meta-type": "builtin", "json-type": "int"},
    {"name": "[int]", "meta-type": "array", "element-type": "int"},
    # used only by a member that is compiled out, but a type's entry has its own condition
    {"name": "bool", "meta-type": "builtin", "json-type": "boolean"},
    {"name": "str", "meta-type": "builtin", "json-type": "string"},
]


@pytest.fixture(scope="module")
def schema_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("introspect") / "intro.json"
    path.write_text(SCHEMA, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def schema(schema_path: Path) -> Schema:
    return load_schema(str(schema_path))


def by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in entries}


def test_unmasked_output(schema: Schema) -> None:
    assert introspect_schema(schema, unmask=True) == EXPECTED


def test_masked_names_are_numbers_in_order_of_first_use(schema: Schema) -> None:
    masked = introspect_schema(schema)
    names = [entry["name"] for entry in masked]
    assert names == [
        "configure", "ping", "CHANGED", "0", "1", "3", "4", "5", "6", "7",
        "int", "[int]", "bool", "str",
    ]  # fmt: skip
    # "2" was 'Extra', numbered before its condition removed it, as in QEMU's binary
    assert masked[0]["arg-type"] == "0"
    assert masked[0]["ret-type"] == "1"
    assert masked[1]["arg-type"] == masked[1]["ret-type"] == "3"


TYPE_KEYS = ("type", "arg-type", "ret-type", "element-type")


def rename_types(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every type reference (not member names) renamed by ``names``."""
    if isinstance(value, dict):
        return {
            key: rename_type(item, names) if key in TYPE_KEYS else rename_types(item, names)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [rename_types(item, names) for item in value]
    return value


def rename_type(name: str, names: dict[str, str]) -> str:
    if name.startswith("["):
        return "[" + rename_type(name[1:-1], names) + "]"
    return names.get(name, name)


@pytest.mark.parametrize("defines", [frozenset(), frozenset({"CONFIG_SLOW", "CONFIG_EXTRA"})])
def test_masking_only_renames_types(schema: Schema, defines: frozenset[str]) -> None:
    masked = introspect_schema(schema, defines=defines)
    unmasked = introspect_schema(schema, defines=defines, unmask=True)
    names = {plain["name"]: hidden["name"] for plain, hidden in zip(unmasked, masked, strict=True)}
    assert names["configure"] == "configure"
    assert names["int"] == "int"
    assert names["Settings"] == "1"
    renamed = [{**rename_types(entry, names), "name": names[entry["name"]]} for entry in unmasked]
    assert renamed == masked


def test_integer_types_fold_into_int(schema: Schema) -> None:
    text = json.dumps(introspect_schema(schema, defines=frozenset({"CONFIG_EXTRA"}), unmask=True))
    for integer in ("int8", "uint16", "int32", "size", "uint64"):
        assert f'"{integer}"' not in text
        assert f'"[{integer}]"' not in text
    entries = by_name(introspect_schema(schema, defines=frozenset({"CONFIG_EXTRA"}), unmask=True))
    assert entries["Extra"]["members"] == [{"name": "count", "type": "int"}]
    assert entries["Value"]["members"][0] == {"type": "int"}
    assert entries["Settings"]["members"][2] == {"name": "sizes", "type": "[int]"}


def entries_with(schema: Schema, *defines: str) -> list[dict[str, Any]]:
    return introspect_schema(schema, defines=frozenset(defines), unmask=True)


def test_define_slow_adds_the_enum_value_and_the_branch(schema: Schema) -> None:
    entries = by_name(entries_with(schema, "CONFIG_SLOW"))
    assert entries["Mode"]["values"] == ["fast", "slow", "old"]
    assert entries["Mode"]["members"][1] == {"name": "slow"}
    assert entries["Shape"]["variants"] == [
        {"case": "fast", "type": "Settings"},
        {"case": "slow", "type": "Settings"},
        {"case": "old", "type": "q_empty"},
    ]
    rest = [e for e in entries_with(schema, "CONFIG_SLOW") if e["name"] not in ("Mode", "Shape")]
    assert rest == [e for e in EXPECTED if e["name"] not in ("Mode", "Shape")]


def test_define_debug_adds_the_member_only(schema: Schema) -> None:
    entries = entries_with(schema, "CONFIG_DEBUG")
    settings = by_name(entries)["Settings"]
    assert [m["name"] for m in settings["members"]] == ["mode", "level", "sizes", "debug", "name"]
    assert settings["members"][3] == {"name": "debug", "type": "bool"}
    assert [e for e in entries if e["name"] != "Settings"] == [
        e for e in EXPECTED if e["name"] != "Settings"
    ]


def test_a_type_is_kept_by_its_own_condition(schema: Schema) -> None:
    # 'extra' needs both symbols; its argument type 'Extra' only needs one.
    names = [e["name"] for e in entries_with(schema, "CONFIG_EXTRA")]
    assert "Extra" in names
    assert "extra" not in names
    extra = by_name(entries_with(schema, "CONFIG_EXTRA"))["Extra"]
    assert extra == {
        "name": "Extra",
        "meta-type": "object",
        "members": [{"name": "count", "type": "int"}],
        "features": ["my-feature"],
    }


def test_all_condition(schema: Schema) -> None:
    entries = by_name(entries_with(schema, "CONFIG_EXTRA", "CONFIG_DEBUG"))
    assert entries["extra"] == {
        "name": "extra",
        "meta-type": "command",
        "arg-type": "Extra",
        "ret-type": "q_empty",
    }


def test_not_condition_removes_the_event_and_its_implicit_type(schema: Schema) -> None:
    entries = entries_with(schema, "CONFIG_QUIET")
    assert entries == [e for e in EXPECTED if e["name"] not in ("CHANGED", "q_obj_CHANGED-arg")]


def test_unknown_define_changes_nothing(schema: Schema) -> None:
    assert entries_with(schema, "CONFIG_NOTHING") == EXPECTED


def test_schema_without_definitions(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("")
    assert introspect_schema(load_schema(str(path))) == []


def run_introspect(*args: str) -> Any:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "pyqmp", "schema", "introspect", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_cli_gives_the_same_answer(schema_path: Path, schema: Schema) -> None:
    assert run_introspect(str(schema_path)) == introspect_schema(schema)
    assert run_introspect(
        str(schema_path), "--define", "CONFIG_SLOW", "--define", "CONFIG_DEBUG", "--unmask"
    ) == introspect_schema(schema, defines=frozenset({"CONFIG_SLOW", "CONFIG_DEBUG"}), unmask=True)
