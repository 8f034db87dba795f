"""``schema diff``'s finer rules on small hand-written schemas: one rule each, both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyqmp.schema import load_schema
from pyqmp.schema.diff import Change, diff_schemas
from pyqmp.schema.diff.report import describe, human_report, json_report
from pyqmp.schema.diff.rules import INPUT, OUTPUT, RULES, breaks


def diff(tmp_path: Path, old: str, new: str) -> list[Change]:
    (tmp_path / "old.json").write_text(old, encoding="utf-8")
    (tmp_path / "new.json").write_text(new, encoding="utf-8")
    return diff_schemas(
        load_schema(str(tmp_path / "old.json")), load_schema(str(tmp_path / "new.json"))
    )


def summary(changes: list[Change]) -> set[tuple[str, str, str]]:
    return {(describe(c).rsplit(": ", 1)[0], c.kind, c.verdict) for c in changes}


def command_taking(arg_type: str, extra: str = "") -> str:
    return f"{extra}\n{{ 'command': 'cmd', 'data': {{ 'arg': '{arg_type}' }} }}\n"


def command_returning(ret_type: str, extra: str = "") -> str:
    return f"{extra}\n{{ 'command': 'cmd', 'returns': '{ret_type}' }}\n"


RETURNS = "{ 'struct': 'Reply', 'data': { 'value': '%s' } }"


@pytest.mark.parametrize(
    ("old", "new", "sent", "received"),
    [
        # (old type, new type, kind when sent, kind when received); None: no change
        ("int", "int64", None, None),  # the same JSON under two names
        ("uint64", "size", None, None),
        ("int8", "int16", "type widened", "type widened"),
        ("int16", "int8", "type narrowed", "type narrowed"),
        ("int8", "uint8", "type changed", "type changed"),
        ("int", "number", "type widened", "type widened"),
        ("str", "any", "type widened", "type widened"),
        ("any", "str", "type narrowed", "type narrowed"),
        ("str", "bool", "type changed", "type changed"),
        ("str", "Letter", "type narrowed", "type narrowed"),
        ("Letter", "str", "type widened", "type widened"),
        ("Pair", "str", "type changed", "type changed"),
    ],
)
def test_scalar_positions(
    tmp_path: Path, old: str, new: str, sent: str | None, received: str | None
) -> None:
    defs = "{ 'enum': 'Letter', 'data': [ 'a' ] }\n{ 'struct': 'Pair', 'data': { 'x': 'int' } }"
    sending = diff(tmp_path, command_taking(old, defs), command_taking(new, defs))
    assert [c.kind for c in sending] == ([sent] if sent else [])
    assert all(c.breaks == breaks(c.kind, frozenset({INPUT})) for c in sending)
    receiving = diff(
        tmp_path,
        command_returning("Reply", defs + "\n" + RETURNS % old),
        command_returning("Reply", defs + "\n" + RETURNS % new),
    )
    assert [c.kind for c in receiving] == ([received] if received else [])
    if sent == "type widened":  # wider input breaks no sender; wider output breaks receivers
        assert sending[0].verdict == "safe" and receiving[0].verdict == "receivers"
    if sent == "type narrowed":
        assert sending[0].verdict == "senders" and receiving[0].verdict == "safe"


def test_a_type_sent_and_received_is_judged_both_ways(tmp_path: Path) -> None:
    old = """
{ 'struct': 'Shared', 'data': { 'a': 'int', '*b': 'str' } }
{ 'command': 'set', 'data': { 'value': 'Shared' } }
{ 'command': 'get', 'returns': 'Shared' }
"""
    changes = diff(tmp_path, old, old.replace("'a': 'int', ", ""))
    assert summary(changes) == {
        ("command 'set' → argument 'value' → member 'a'", "removed", "both")
    }
    assert changes[0].directions == {INPUT, OUTPUT}
    # the optional one: senders break, receivers already cope with its absence
    changes = diff(tmp_path, old, old.replace(", '*b': 'str'", ""))
    assert [(c.kind, c.verdict) for c in changes] == [("optional member removed", "senders")]


def test_a_change_reached_from_many_places_is_reported_once(tmp_path: Path) -> None:
    old = """
{ 'struct': 'Inner', 'data': { 'x': 'int' } }
{ 'command': 'one', 'data': { 'i': 'Inner' } }
{ 'command': 'two', 'data': { 'list': [ 'Inner' ], 'again': 'Inner' } }
{ 'event': 'EV', 'data': { 'i': 'Inner' } }
"""
    changes = diff(tmp_path, old, old.replace("'x': 'int'", "'x': 'str'"))
    assert summary(changes) == {
        ("command 'one' → argument 'i' → member 'x'", "type changed", "both")
    }


def test_a_member_moved_from_the_branches_into_the_base_is_no_change(tmp_path: Path) -> None:
    old = """
{ 'enum': 'Kind', 'data': [ 'a', 'b' ] }
{ 'struct': 'BranchA', 'data': { 'common': 'int', 'only-a': 'str' } }
{ 'struct': 'BranchB', 'data': { 'common': 'int' } }
{ 'union': 'Un', 'base': { 'kind': 'Kind' }, 'discriminator': 'kind',
  'data': { 'a': 'BranchA', 'b': 'BranchB' } }
{ 'command': 'cmd', 'data': 'Un', 'boxed': true, 'returns': 'Un' }
"""
    new = """
{ 'enum': 'Kind', 'data': [ 'a', 'b' ] }
{ 'struct': 'BranchA', 'data': { 'only-a': 'str' } }
{ 'union': 'Un', 'base': { 'kind': 'Kind', 'common': 'int' }, 'discriminator': 'kind',
  'data': { 'a': 'BranchA' } }
{ 'command': 'cmd', 'data': 'Un', 'boxed': true, 'returns': 'Un' }
"""
    assert diff(tmp_path, old, new) == []
    assert diff(tmp_path, new, old) == []


def test_a_struct_that_becomes_a_union_needs_its_tag(tmp_path: Path) -> None:
    old = """
{ 'struct': 'Pair', 'data': { 'x': 'int' } }
{ 'command': 'cmd', 'data': 'Pair' }
"""
    new = """
{ 'enum': 'Kind', 'data': [ 'a' ] }
{ 'struct': 'BranchA', 'data': { 'y': 'int', '*z': 'int' } }
{ 'union': 'Pair', 'base': { 'x': 'int', 'kind': 'Kind' }, 'discriminator': 'kind',
  'data': { 'a': 'BranchA' } }
{ 'command': 'cmd', 'data': 'Pair', 'boxed': true }
"""
    assert summary(diff(tmp_path, old, new)) == {
        ("command 'cmd' → argument 'kind'", "added, mandatory", "senders"),
        ("command 'cmd' → branch 'a' → argument 'y'", "added, mandatory", "senders"),
        ("command 'cmd' → branch 'a' → argument 'z'", "added, optional", "safe"),
    }


def test_alternates_compare_branch_by_branch(tmp_path: Path) -> None:
    old = """
{ 'struct': 'Obj', 'data': { 'x': 'int' } }
{ 'alternate': 'Alt', 'data': { 'o': 'Obj', 's': 'str' } }
{ 'command': 'cmd', 'data': { 'a': 'Alt' }, 'returns': 'Obj' }
"""
    new = old.replace("'x': 'int'", "'x': 'int', 'y': 'int'").replace(
        "'s': 'str'", "'s': 'str', 'n': 'null'"
    )
    assert summary(diff(tmp_path, old, new)) == {
        ("command 'cmd' → argument 'a' → alternative object → member 'y'", "added, mandatory",
         "senders"),
        ("command 'cmd' → argument 'a' → alternative null", "alternative added", "safe"),
    }  # fmt: skip


def test_recursive_types_and_renames(tmp_path: Path) -> None:
    old = """
{ 'struct': 'Node', 'data': { 'name': 'str', '*children': [ 'Node' ] } }
{ 'command': 'tree', 'returns': 'Node' }
"""
    new = old.replace("Node", "TreeNode")
    assert diff(tmp_path, old, new) == []
    changes = diff(tmp_path, old, new.replace("'name': 'str'", "'name': 'int'"))
    assert summary(changes) == {("command 'tree' → returns → member 'name'", "type changed",
                                 "receivers")}  # fmt: skip


def test_nothing_returned_and_no_event_data_grow_safely(tmp_path: Path) -> None:
    old = "{ 'command': 'cmd' }\n{ 'event': 'EV' }\n"
    new = """
{ 'struct': 'Reply', 'data': { 'x': 'int' } }
{ 'command': 'cmd', 'returns': 'Reply' }
{ 'event': 'EV', 'data': { 'y': 'int' } }
"""
    assert {(c.kind, c.verdict) for c in diff(tmp_path, old, new)} == {("added, mandatory", "safe")}
    assert len(diff(tmp_path, old, new)) == 2
    changes = diff(
        tmp_path,
        old,
        "{ 'struct': 'Reply', 'data': {} }\n"
        "{ 'command': 'cmd', 'returns': [ 'Reply' ] }\n{ 'event': 'EV' }",
    )
    assert summary(changes) == {("command 'cmd' → returns", "type changed", "receivers")}


def test_deprecations_of_values_members_and_events_are_listed(tmp_path: Path) -> None:
    old = """
{ 'enum': 'Letter', 'data': [ 'a', 'b' ] }
{ 'command': 'cmd', 'data': { 'e': 'Letter', '*m': 'int' } }
{ 'event': 'EV' }
"""
    new = """
{ 'enum': 'Letter', 'data': [ 'a', { 'name': 'b', 'features': [ 'deprecated' ] } ] }
{ 'command': 'cmd',
  'data': { 'e': 'Letter', '*m': { 'type': 'int', 'features': [ 'deprecated' ] } } }
{ 'event': 'EV', 'features': [ 'deprecated' ] }
"""
    assert summary(diff(tmp_path, old, new)) == {
        ("command 'cmd' → argument 'e' → value 'b'", "deprecated", "deprecation"),
        ("command 'cmd' → argument 'm'", "deprecated", "deprecation"),
        ("event 'EV'", "deprecated", "deprecation"),
    }
    assert {c.kind for c in diff(tmp_path, new, old)} == {"no longer deprecated"}


def test_conditions_are_followed_and_shown(tmp_path: Path) -> None:
    old = "{ 'command': 'cmd', 'data': { 'a': 'int' } }\n"
    new = (
        "{ 'command': 'cmd', 'data': { 'a': { 'type': 'int', "
        "'if': { 'all': [ 'CONFIG_A', { 'not': 'CONFIG_B' } ] } } } }\n"
    )
    (change,) = diff(tmp_path, old, new)
    assert (change.kind, change.verdict) == ("condition changed", "safe")
    assert change.detail == "always → (CONFIG_A and not CONFIG_B)"


def test_include_files_are_followed_with_their_lines(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "top.json").write_text("{ 'include': 'sub.json' }\n")
    (tmp_path / "old" / "sub.json").write_text("\n{ 'command': 'cmd', 'data': { 'a': 'int' } }\n")
    (tmp_path / "new" / "top.json").write_text("{ 'include': 'sub.json' }\n")
    (tmp_path / "new" / "sub.json").write_text("\n\n\n{ 'command': 'cmd' }\n")
    old_top, new_top = str(tmp_path / "old" / "top.json"), str(tmp_path / "new" / "top.json")
    changes = diff_schemas(load_schema(old_top), load_schema(new_top))
    text = human_report(changes, old_top, new_top)
    assert "command 'cmd' → argument 'a': removed" in text
    assert "old sub.json:2  new sub.json:4" in text
    assert json_report(changes, old_top, new_top)["changes"][0]["old"] == "sub.json:2"


def test_every_rule_says_who_breaks_in_each_direction() -> None:
    for kind, rule in RULES.items():
        assert rule.on_input in (None, "senders"), kind  # what is sent breaks only senders
        assert rule.on_output in (None, "receivers"), kind
        if rule.deprecation:
            assert rule.on_input is None and rule.on_output is None
    assert breaks("removed", frozenset({INPUT, OUTPUT})) == {"senders", "receivers"}
    assert breaks("enum value added", frozenset({INPUT})) == frozenset()
    assert breaks("enum value added", frozenset({OUTPUT})) == {"receivers"}


def test_types_nested_thousands_deep_need_no_recursion(tmp_path: Path) -> None:
    depth = 3000
    chain = [f"{{ 'struct': 'Level{i}', 'data': {{ 'a': 'Level{i + 1}' }} }}" for i in range(depth)]
    old = "\n".join([*chain, f"{{ 'struct': 'Level{depth}', 'data': {{ 'a': 'int' }} }}"])
    command = "\n{ 'command': 'cmd', 'data': { 'x': 'Level0' } }\n"
    (change,) = diff(tmp_path, old + command, old.replace("'a': 'int'", "'a': 'str'") + command)
    assert (change.kind, change.verdict, len(change.path)) == ("type changed", "senders", depth + 3)


def test_a_command_that_stops_replying_breaks_receivers(tmp_path: Path) -> None:
    pragma = "{ 'pragma': { 'command-returns-exceptions': [ 'cmd' ] } }\n"
    old = pragma + "{ 'command': 'cmd' }\n"
    new = pragma + "{ 'command': 'cmd', 'success-response': false }\n"
    assert summary(diff(tmp_path, old, new)) == {("command 'cmd'", "reply withdrawn", "receivers")}
    assert summary(diff(tmp_path, new, old)) == {("command 'cmd'", "reply added", "safe")}
