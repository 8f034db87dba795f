"""Unit tests for the structural query-qmp-schema comparison, on small hand-made schemas."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from schema_graph import compare_schema_infos, rename_types

Entries = dict[str, dict[str, Any]]


def sample_schema() -> list[dict[str, Any]]:
    """A small schema in the shape QEMU emits, touching every meta-type."""
    return [
        {"name": "str", "meta-type": "builtin", "json-type": "string"},
        {"name": "int", "meta-type": "builtin", "json-type": "int"},
        {"name": "bool", "meta-type": "builtin", "json-type": "boolean"},
        {"name": "null", "meta-type": "builtin", "json-type": "null"},
        {"name": "0", "meta-type": "object", "members": []},
        {"name": "ping", "meta-type": "command", "arg-type": "0", "ret-type": "0"},
        {
            "name": "set-mode",
            "meta-type": "command",
            "arg-type": "1",
            "ret-type": "2",
            "features": ["unstable"],
        },
        {
            "name": "1",
            "meta-type": "object",
            "members": [
                {"name": "id", "type": "str"},
                {"name": "mode", "type": "3", "default": None},
                {"name": "backup-mode", "type": "3", "default": None},
                {"name": "count", "type": "int", "default": None, "features": ["deprecated"]},
                {"name": "target", "type": "5", "default": None},
            ],
        },
        {
            "name": "3",
            "meta-type": "enum",
            "values": ["fast", "slow", "off"],
            "members": [
                {"name": "fast"},
                {"name": "slow", "features": ["deprecated"]},
                {"name": "off"},
            ],
        },
        {
            "name": "2",
            "meta-type": "object",
            "tag": "kind",
            "members": [{"name": "kind", "type": "3"}],
            "variants": [{"case": "fast", "type": "4"}, {"case": "slow", "type": "0"}],
        },
        {"name": "4", "meta-type": "object", "members": [{"name": "speeds", "type": "[int]"}]},
        {"name": "[int]", "meta-type": "array", "element-type": "int"},
        {
            "name": "5",
            "meta-type": "alternate",
            "members": [{"type": "str"}, {"type": "null"}, {"type": "[6]"}],
        },
        {"name": "[6]", "meta-type": "array", "element-type": "6"},
        {"name": "6", "meta-type": "object", "members": [{"name": "node", "type": "str"}]},
        {"name": "MODE_CHANGED", "meta-type": "event", "arg-type": "7"},
        {"name": "7", "meta-type": "object", "members": [{"name": "mode", "type": "3"}]},
        {
            "name": "yank",
            "meta-type": "command",
            "arg-type": "0",
            "ret-type": "0",
            "allow-oob": True,
        },
    ]


def changed(edit: Callable[[Entries], None]) -> list[dict[str, Any]]:
    """A copy of the sample schema with `edit` applied to its entries (indexed by name)."""
    schema = copy.deepcopy(sample_schema())
    entries = {info["name"]: info for info in schema}
    edit(entries)
    return list(entries.values())


def differences_after(edit: Callable[[Entries], None]) -> list[str]:
    return compare_schema_infos(sample_schema(), changed(edit), "qemu", "pyqmp")


def assert_reported(differences: list[str], *fragments: str) -> None:
    assert differences, "the change went undetected"
    for fragment in fragments:
        assert any(fragment in line for line in differences), (fragment, differences)


def test_identical_schemas_compare_equal() -> None:
    assert compare_schema_infos(sample_schema(), sample_schema()) == []


def test_masked_names_and_entry_order_do_not_matter() -> None:
    renamed = rename_types(
        sample_schema(),
        {"0": "40", "1": "17", "2": "3", "3": "2", "4": "99", "5": "6", "6": "5", "7": "8"},
    )
    assert compare_schema_infos(sample_schema(), list(reversed(renamed))) == []


def test_member_order_swap_is_reported() -> None:
    def edit(entries: Entries) -> None:
        members = entries["1"]["members"]
        members[1], members[3] = members[3], members[1]

    assert_reported(
        differences_after(edit), "command set-mode arg-type: members differ: order differs"
    )


def test_missing_member_is_reported() -> None:
    def edit(entries: Entries) -> None:
        del entries["1"]["members"][3]

    assert_reported(differences_after(edit), "only qemu has 'count'")


def test_changed_default_is_reported() -> None:
    def drop_default(entries: Entries) -> None:
        del entries["1"]["members"][1]["default"]

    def change_default(entries: Entries) -> None:
        entries["1"]["members"][1]["default"] = 0

    assert_reported(
        differences_after(drop_default),
        "arg-type .members[1] 'mode': 'default' present only on qemu",
    )
    assert_reported(
        differences_after(change_default),
        "arg-type .members[1] 'mode': default differs: qemu None, pyqmp 0",
    )


def test_different_type_sharing_is_reported() -> None:
    # pyqmp gives backup-mode its own enum, identical to mode's: a client can tell.
    def edit(entries: Entries) -> None:
        entries["1"]["members"][2]["type"] = "30"
        entries["30"] = copy.deepcopy(entries["3"]) | {"name": "30"}

    assert_reported(differences_after(edit), "'backup-mode' .type: type sharing differs")


def test_different_type_sharing_is_reported_from_the_other_side() -> None:
    def edit(entries: Entries) -> None:
        entries["1"]["members"][2]["type"] = "30"
        entries["30"] = copy.deepcopy(entries["3"]) | {"name": "30"}

    differences = compare_schema_infos(changed(edit), sample_schema(), "pyqmp", "qemu")
    assert_reported(differences, "'backup-mode' .type: type sharing differs")


def test_missing_feature_is_reported() -> None:
    def on_command(entries: Entries) -> None:
        del entries["set-mode"]["features"]

    def on_member(entries: Entries) -> None:
        entries["1"]["members"][3]["features"] = []

    def on_enum_value(entries: Entries) -> None:
        del entries["3"]["members"][1]["features"]

    assert_reported(
        differences_after(on_command),
        "command set-mode: 'features' present only on qemu",
        "features differ",
    )
    assert_reported(
        differences_after(on_member), "'count': features differ: only qemu has 'deprecated'"
    )
    assert_reported(differences_after(on_enum_value), ".members[1] 'slow': features differ")


def test_feature_order_is_significant() -> None:
    def edit(entries: Entries) -> None:
        entries["set-mode"]["features"] = ["deprecated", "unstable"]

    base = changed(lambda entries: entries["set-mode"].update(features=["unstable", "deprecated"]))
    assert_reported(compare_schema_infos(base, changed(edit)), "features differ: order differs")


def test_missing_enum_value_is_reported() -> None:
    def edit(entries: Entries) -> None:
        entries["3"]["values"].remove("off")
        entries["3"]["members"].pop()

    assert_reported(
        differences_after(edit),
        "values differ: only qemu has 'off'",
        "members differ: only qemu has 'off'",
    )


def test_missing_command_is_reported_once() -> None:
    def edit(entries: Entries) -> None:
        del entries["set-mode"]

    differences = differences_after(edit)
    assert_reported(differences, "command set-mode: missing on pyqmp")
    # The types only set-mode uses are explained by its absence, not listed one by one.
    assert not any("'1'" in line for line in differences), differences


def test_missing_event_is_reported() -> None:
    def edit(entries: Entries) -> None:
        del entries["MODE_CHANGED"]

    assert_reported(differences_after(edit), "event MODE_CHANGED: missing on pyqmp")


def test_extra_allow_oob_is_reported() -> None:
    def edit(entries: Entries) -> None:
        entries["ping"]["allow-oob"] = True

    assert_reported(differences_after(edit), "command ping: 'allow-oob' present only on pyqmp")


def test_changed_allow_oob_value_is_reported() -> None:
    def edit(entries: Entries) -> None:
        entries["yank"]["allow-oob"] = False

    assert_reported(differences_after(edit), "command yank: allow-oob differs")


def test_changed_member_type_is_reported() -> None:
    def edit(entries: Entries) -> None:
        entries["1"]["members"][3]["type"] = "str"

    assert_reported(
        differences_after(edit), ".members[3] 'count' .type: type differs: qemu 'int', pyqmp 'str'"
    )


def test_changed_meta_type_is_reported() -> None:
    def edit(entries: Entries) -> None:
        entries["6"] = {
            "name": "6",
            "meta-type": "enum",
            "values": ["node"],
            "members": [{"name": "node"}],
        }

    assert_reported(differences_after(edit), ".element-type: meta-type differs")


def test_changed_variants_and_tag_are_reported() -> None:
    def variant_type(entries: Entries) -> None:
        entries["2"]["variants"][1]["type"] = "4"

    def variant_missing(entries: Entries) -> None:
        entries["2"]["variants"].pop()

    def tag(entries: Entries) -> None:
        entries["2"]["tag"] = "mode"

    assert_reported(differences_after(variant_type), "ret-type .variants[1] 'slow' .type")
    assert_reported(differences_after(variant_missing), "variants differ: only qemu has 'slow'")
    assert_reported(differences_after(tag), "tag differs: qemu 'kind', pyqmp 'mode'")


def test_changed_alternate_is_reported() -> None:
    def swapped(entries: Entries) -> None:
        entries["5"]["members"].reverse()

    def shorter(entries: Entries) -> None:
        entries["5"]["members"].pop(1)

    assert_reported(differences_after(swapped), "'target' .type .members[0] .type: type differs")
    assert_reported(differences_after(shorter), "alternate has 3 members on qemu, 2 on pyqmp")


def test_changed_array_element_is_reported() -> None:
    def edit(entries: Entries) -> None:
        entries["[int]"]["element-type"] = "str"
        entries["[int]"]["name"] = "[str]"
        entries["4"]["members"][0]["type"] = "[str]"

    assert_reported(differences_after(edit), ".element-type: type differs: qemu 'int', pyqmp 'str'")


def test_misnamed_array_is_reported() -> None:
    def edit(entries: Entries) -> None:
        entries["[6]"]["element-type"] = "60"
        entries["60"] = entries.pop("6") | {"name": "60"}

    assert_reported(
        differences_after(edit), "pyqmp array '[6]' is not named after its element-type '60'"
    )


def test_changed_builtin_is_reported() -> None:
    def edit(entries: Entries) -> None:
        entries["int"]["json-type"] = "number"

    assert_reported(differences_after(edit), "json-type differs: qemu 'int', pyqmp 'number'")


def test_extra_unreached_entry_is_reported() -> None:
    def edit(entries: Entries) -> None:
        entries["77"] = {"name": "77", "meta-type": "object", "members": []}

    assert_reported(
        differences_after(edit),
        "schema: 18 entries on qemu, 19 on pyqmp",
        "pyqmp entry '77': object is not reached",
    )


def test_unreached_entries_alike_on_both_sides_are_accounted_for() -> None:
    # QEMU lists types used only under a false condition; a matching leftover is fine.
    def edit_left(entries: Entries) -> None:
        entries["70"] = {
            "name": "70",
            "meta-type": "object",
            "members": [{"name": "grab", "type": "bool", "default": None}],
        }
        entries["71"] = {
            "name": "71",
            "meta-type": "enum",
            "values": ["a"],
            "members": [{"name": "a"}],
        }

    def edit_right(entries: Entries) -> None:
        entries["90"] = {
            "name": "90",
            "meta-type": "enum",
            "values": ["a"],
            "members": [{"name": "a"}],
        }
        entries["80"] = {
            "name": "80",
            "meta-type": "object",
            "members": [{"name": "grab", "type": "bool", "default": None}],
        }

    assert compare_schema_infos(changed(edit_left), changed(edit_right)) == []


def test_unreached_entries_that_differ_are_reported() -> None:
    def edit_left(entries: Entries) -> None:
        entries["70"] = {
            "name": "70",
            "meta-type": "object",
            "members": [{"name": "grab", "type": "bool", "default": None}],
        }

    def edit_right(entries: Entries) -> None:
        entries["80"] = {
            "name": "80",
            "meta-type": "object",
            "members": [{"name": "grab", "type": "bool"}],
        }

    assert_reported(
        compare_schema_infos(changed(edit_left), changed(edit_right)),
        "left entry '70': object is not reached",
        "right entry '80': object is not reached",
    )


def test_duplicate_names_are_reported() -> None:
    schema = sample_schema()
    assert_reported(
        compare_schema_infos(schema, [*schema, schema[0]]), "right entry 'str': name is not unique"
    )


def test_unmasked_type_names_must_match() -> None:
    renamed = rename_types(sample_schema(), {"3": "Mode"})
    assert_reported(
        compare_schema_infos(sample_schema(), renamed), "type differs: left '3', right 'Mode'"
    )


@pytest.mark.parametrize("key", ["json-type", "values", "element-type"])
def test_stray_key_is_reported(key: str) -> None:
    def edit(entries: Entries) -> None:
        entries["1"][key] = "x"

    assert_reported(
        differences_after(edit), f"command set-mode arg-type: '{key}' present only on pyqmp"
    )
