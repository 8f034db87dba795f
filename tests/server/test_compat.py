"""The compat policy on its own: QEMU's option syntax and errors, and what each policy
does to requests, replies and events of a small schema that has every kind of
deprecated and unstable thing (commands, arguments nested in structs, arrays and union
branches, enum values, reply members, events and event members).

The texts are QEMU 7.2's (qapi/qapi-util.c, softmmu/vl.c's -compat parsing through the
keyval input visitor); tests/interop/test_compat_vs_qemu.py holds them to the real binary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyqmp.schema import load_schema
from pyqmp.schema.model import Schema
from pyqmp.server.access import AccessPolicy, CommandView
from pyqmp.server.compat import (
    DEFAULT_POLICY,
    HIDDEN_EVENT,
    CompatError,
    CompatPolicy,
    CompatRules,
    last_policy,
)
from pyqmp.server.dispatch import Dispatcher
from pyqmp.server.errors import CommandError
from pyqmp.server.events import EventBus

SCHEMA = """
{ 'enum': 'Colour',
  'data': [ 'red', { 'name': 'x-green', 'features': [ 'unstable' ] },
            { 'name': 'blue', 'features': [ 'deprecated' ] } ] }
{ 'struct': 'Inner',
  'data': { 'a': 'int',
            '*old': { 'type': 'int', 'features': [ 'deprecated' ] },
            '*x-new': { 'type': 'int', 'features': [ 'unstable' ] } } }
{ 'enum': 'Kind', 'data': [ 'plain', 'fancy' ] }
{ 'struct': 'Fancy',
  'data': { '*legacy': { 'type': 'str', 'features': [ 'deprecated' ] } } }
{ 'union': 'Shape', 'base': { 'kind': 'Kind' }, 'discriminator': 'kind',
  'data': { 'fancy': 'Fancy' } }
{ 'struct': 'Report',
  'data': { 'n': 'int', 'inner': 'Inner', 'list': [ 'Inner' ], 'shape': 'Shape',
            '*gone': { 'type': 'str', 'features': [ 'deprecated' ] } } }
{ 'command': 'paint',
  'data': { 'colours': [ 'Colour' ], '*inner': 'Inner', '*shape': 'Shape',
            '*brush': { 'type': 'str', 'features': [ 'deprecated' ] } } }
{ 'command': 'report', 'returns': 'Report' }
{ 'command': 'plain', 'data': { 'n': 'int' }, 'returns': 'Inner' }
{ 'command': 'old-paint', 'features': [ 'deprecated' ] }
{ 'command': 'x-paint', 'features': [ 'unstable' ] }
{ 'command': 'query-commands', 'returns': [ 'Inner' ] }
{ 'struct': 'Colours', 'data': { 'list': [ 'Colour' ] } }
{ 'command': 'colour-of', 'returns': 'Colours' }
{ 'event': 'PAINTED', 'data': { 'inner': 'Inner' } }
{ 'event': 'OLD_PAINTED', 'features': [ 'deprecated' ] }
{ 'event': 'X_PAINTED', 'features': [ 'unstable' ] }
{ 'event': 'DRIED', 'data': { 'n': 'int' } }
{ 'struct': 'Tree',
  'data': { '*child': 'Tree', '*old': { 'type': 'int', 'features': [ 'deprecated' ] } } }
{ 'command': 'grow', 'data': { 'tree': 'Tree' } }
"""

REPORT: dict[str, Any] = {
    "n": 1,
    "inner": {"a": 1, "old": 2, "x-new": 3},
    "list": [{"a": 1, "old": 2}, {"a": 2, "x-new": 4}],
    "shape": {"kind": "fancy", "legacy": "yes"},
    "gone": "soon",
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    path: Path = tmp_path_factory.mktemp("compat") / "compat.json"
    path.write_text(SCHEMA, encoding="utf-8")
    return load_schema(str(path))


def rules(schema: Schema, text: str) -> CompatRules:
    return CompatRules(schema, CompatPolicy.parse(text), on_crash=crash_recorder)


crashes: list[str] = []


def crash_recorder(what: str) -> None:
    crashes.append(what)
    raise SystemExit(134)  # as abort() would end the process: nothing after it runs


def refusal(rules: CompatRules, name: str, arguments: dict[str, Any] | None) -> tuple[str, str]:
    with pytest.raises(CommandError) as caught:
        rules.check_input(name, arguments)
    return caught.value.error_class.value, caught.value.desc


# -- the option -----------------------------------------------------------------------


def test_parse_reads_qemus_syntax() -> None:
    assert CompatPolicy.parse("") == DEFAULT_POLICY
    assert CompatPolicy.parse("deprecated-input=reject,unstable-output=hide") == CompatPolicy(
        deprecated_input="reject", unstable_output="hide"
    )
    # a key given twice in one option: the last value (QEMU's keyval)
    assert CompatPolicy.parse("deprecated-input=reject,deprecated-input=crash") == CompatPolicy(
        deprecated_input="crash"
    )
    assert CompatPolicy.parse("deprecated-output=hide").describe() == "deprecated-output=hide"
    assert CompatPolicy.parse("deprecated-input=reject,") == CompatPolicy(deprecated_input="reject")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reject", "Expected '=' after parameter 'reject'"),
        ("deprecated-input", "Expected '=' after parameter 'deprecated-input'"),
        ("future-input=reject", "Parameter 'future-input' is unexpected"),
        ("deprecated-input=hide", "Parameter 'deprecated-input' does not accept value 'hide'"),
        ("unstable-output=crash", "Parameter 'unstable-output' does not accept value 'crash'"),
        ("deprecated-output=", "Parameter 'deprecated-output' does not accept value ''"),
        # keyval: ",," is a comma in a value; keys are QAPI names, dotted for objects
        (
            "deprecated-input=reject,,unstable-input=reject",
            "Parameter 'deprecated-input' does not accept value 'reject,unstable-input=reject'",
        ),
        (
            "deprecated-input=reject=x",
            "Parameter 'deprecated-input' does not accept value 'reject=x'",
        ),
        ("=reject", "Invalid parameter ''"),
        (",deprecated-input=reject", "Invalid parameter ''"),
        ("dep$=x", "Invalid parameter 'dep$'"),
        ("1abc=x", "Invalid parameter '1abc'"),
        ("a.b.c=x", "Parameter 'a' is unexpected"),
        ("deprecated-input.x=reject", "Parameters 'deprecated-input.*' are unexpected"),
        ("help", "Help is not available for this option"),
        ("x,y", "Expected '=' after parameter 'x'"),
        ("Deprecated-input=reject", "Parameter 'Deprecated-input' is unexpected"),
        ("a" * 128 + "=1", f"Parameter '{'a' * 128}' is too long"),
        # members are checked in the policy's order, unknown keys after them
        ("future=y,deprecated-input=x", "Parameter 'deprecated-input' does not accept value 'x'"),
    ],
)
def test_parse_refuses_what_qemu_refuses(text: str, message: str) -> None:
    with pytest.raises(CompatError) as caught:
        CompatPolicy.parse(text)
    assert str(caught.value) == message


def test_a_later_option_replaces_an_earlier_one_whole() -> None:
    # QEMU copies each -compat over the whole policy: unnamed members go back to accept
    policy = last_policy(["deprecated-input=reject", "unstable-input=reject"])
    assert policy == CompatPolicy(unstable_input="reject")
    assert last_policy([]) == DEFAULT_POLICY
    with pytest.raises(CompatError, match=r"^--compat bogus=1: Parameter 'bogus' is unexpected$"):
        last_policy(["deprecated-input=reject", "bogus=1"])


# -- input ----------------------------------------------------------------------------


def test_reject_refuses_commands_with_qemus_class_and_text(schema: Schema) -> None:
    both = rules(schema, "deprecated-input=reject,unstable-input=reject")
    assert refusal(both, "old-paint", None) == (
        "CommandNotFound",
        "Deprecated command old-paint disabled by policy",
    )
    assert refusal(both, "x-paint", None) == (
        "CommandNotFound",
        "Unstable command x-paint disabled by policy",
    )
    both.check_input("report", None)  # the rest passes
    only_deprecated = rules(schema, "deprecated-input=reject")
    only_deprecated.check_input("x-paint", None)
    assert refusal(only_deprecated, "old-paint", {}) == (
        "CommandNotFound",
        "Deprecated command old-paint disabled by policy",
    )


@pytest.mark.parametrize(
    ("arguments", "desc"),
    [
        ({"colours": [], "brush": "b"}, "Deprecated parameter brush disabled by policy"),
        (
            {"colours": [], "inner": {"a": 1, "old": 2}},
            "Deprecated parameter old disabled by policy",
        ),
        ({"colours": ["red", "blue"]}, "Deprecated value blue disabled by policy"),
        ({"colours": ["x-green"]}, "Unstable value x-green disabled by policy"),
        (
            {"colours": [], "inner": {"a": 1, "x-new": 1}},
            "Unstable parameter x-new disabled by policy",
        ),
        (
            {"colours": [], "shape": {"kind": "fancy", "legacy": "x"}},
            "Deprecated parameter legacy disabled by policy",
        ),
        # QEMU visits members in the schema's order: colours before brush
        ({"brush": "b", "colours": ["blue"]}, "Deprecated value blue disabled by policy"),
    ],
)
def test_reject_refuses_arguments_and_values(
    schema: Schema, arguments: dict[str, Any], desc: str
) -> None:
    both = rules(schema, "deprecated-input=reject,unstable-input=reject")
    assert refusal(both, "paint", arguments) == ("GenericError", desc)


def test_reject_lets_through_what_is_not_special(schema: Schema) -> None:
    both = rules(schema, "deprecated-input=reject,unstable-input=reject")
    both.check_input("paint", {"colours": ["red"], "inner": {"a": 1}, "shape": {"kind": "plain"}})
    # a branch not selected by the tag is not visited (QEMU visits the selected one only)
    both.check_input("paint", {"colours": [], "shape": {"kind": "plain", "legacy": "x"}})
    # wrong shapes are the argument decoder's business, not the policy's
    both.check_input("paint", {"colours": "red", "inner": 5})
    assert "plain" not in both.checked_commands and "report" not in both.checked_commands


def test_deep_arguments_are_walked_without_recursion(schema: Schema) -> None:
    # as deep as the protocol lets a client nest (1024), beyond Python's recursion limit
    tree: dict[str, Any] = {"old": 1}
    for _ in range(1020):
        tree = {"child": tree}
    rejecting = rules(schema, "deprecated-input=reject")
    assert refusal(rejecting, "grow", {"tree": tree}) == (
        "GenericError",
        "Deprecated parameter old disabled by policy",
    )
    clean: dict[str, Any] = {}
    for _ in range(1020):
        clean = {"child": clean}
    rejecting.check_input("grow", {"tree": clean})


def test_crash_ends_the_process_and_says_why(schema: Schema) -> None:
    crashing = rules(schema, "deprecated-input=crash")
    crashes.clear()
    with pytest.raises(SystemExit):
        crashing.check_input("old-paint", None)
    with pytest.raises(SystemExit):
        crashing.check_input("paint", {"colours": ["blue"]})
    assert crashes == ["deprecated command old-paint", "deprecated value blue"]
    crashing.check_input("x-paint", None)  # unstable-input is still accept


# -- output ---------------------------------------------------------------------------


def test_hide_drops_deprecated_members_at_any_depth(schema: Schema) -> None:
    hiding = rules(schema, "deprecated-output=hide")
    assert hiding.filter_reply("report", REPORT) == {
        "n": 1,
        "inner": {"a": 1, "x-new": 3},
        "list": [{"a": 1}, {"a": 2, "x-new": 4}],
        "shape": {"kind": "fancy"},
    }
    assert REPORT["gone"] == "soon"  # the handler's value is not touched
    both = rules(schema, "deprecated-output=hide,unstable-output=hide")
    assert both.filter_reply("plain", {"a": 1, "old": 2, "x-new": 3}) == {"a": 1}


def test_hide_filters_structs_as_the_handler_returns_them(schema: Schema) -> None:
    class Inner(msgspec.Struct, rename={"x_new": "x-new"}):
        a: int
        old: int
        x_new: int

    hiding = rules(schema, "unstable-output=hide")
    assert hiding.filter_reply("plain", Inner(1, 2, 3)) == {"a": 1, "old": 2}


def test_hide_drops_deprecated_events_and_their_members(schema: Schema) -> None:
    hiding = rules(schema, "deprecated-output=hide")
    assert hiding.filter_event("OLD_PAINTED", None) is HIDDEN_EVENT
    assert hiding.filter_event("X_PAINTED", None) is None
    assert hiding.filter_event("PAINTED", {"inner": {"a": 1, "old": 2}}) == {"inner": {"a": 1}}
    data = {"n": 1}
    assert hiding.filter_event("DRIED", data) is data  # nothing to hide: untouched
    unstable = rules(schema, "unstable-output=hide")
    assert unstable.filter_event("X_PAINTED", None) is HIDDEN_EVENT
    assert unstable.filter_event("OLD_PAINTED", None) is None


def test_hide_leaves_enum_values_alone(schema: Schema) -> None:
    # QEMU's output visitor skips members, never values: 'blue' goes out as it is
    hiding = rules(schema, "deprecated-output=hide,unstable-output=hide")
    assert "colour-of" not in hiding.filtered_replies
    answer = {"list": ["blue", "x-green"]}
    assert hiding.filter_reply("colour-of", answer) == {"list": ["blue", "x-green"]}


def test_accept_changes_nothing(schema: Schema) -> None:
    accepting = rules(schema, "")
    assert not accepting.checked_commands
    assert not accepting.filtered_replies
    assert not accepting.hidden_events and not accepting.filtered_events
    assert accepting.filter_reply("report", REPORT) is REPORT
    accepting.check_input("old-paint", None)


# -- through the dispatcher and a monitor's view ------------------------------------------


class Handlers:
    def paint(self, **arguments: Any) -> None:
        return None

    def report(self) -> dict[str, Any]:
        return REPORT

    def plain(self, n: int) -> dict[str, Any]:
        return {"a": n, "old": n}

    def old_paint(self) -> None:
        return None

    def x_paint(self) -> None:
        return None

    def query_commands(self) -> list[dict[str, Any]]:
        return [{"a": 1, "old": 2}]

    def grow(self, tree: Any) -> None:
        return None

    def colour_of(self) -> dict[str, list[str]]:
        return {"list": ["blue"]}


class PlainArguments(msgspec.Struct, forbid_unknown_fields=True):
    n: int


def dispatcher(schema: Schema, compat: CompatRules | None) -> Dispatcher:
    methods = {name: name.replace("-", "_") for name in schema.commands}
    arguments = {"plain": PlainArguments}
    return Dispatcher(
        schema, Handlers(), methods, arguments, constant_results=["query-commands"], compat=compat
    )


def test_dispatcher_applies_the_policy_before_calling_and_before_caching(
    schema: Schema,
) -> None:
    plain = dispatcher(schema, rules(schema, "deprecated-input=reject,deprecated-output=hide"))
    with pytest.raises(CommandError, match="Deprecated command old-paint disabled by policy"):
        plain.call("old-paint", None)
    assert msgspec.json.decode(plain.call("plain", {"n": 5})) == {"a": 5}
    for _ in range(2):  # the cached answer is the filtered one
        assert msgspec.json.decode(plain.call("query-commands", None)) == [{"a": 1}]
    assert plain.call("x-paint", None) == b"{}"
    default = dispatcher(schema, None)
    assert msgspec.json.decode(default.call("plain", {"n": 5})) == {"a": 5, "old": 5}
    assert default.call("old-paint", None) == b"{}"


def test_a_restricted_view_refuses_first_then_the_policy(schema: Schema) -> None:
    under = dispatcher(schema, rules(schema, "deprecated-input=reject"))
    view = CommandView(under, AccessPolicy(deny=("x-*",)))
    with pytest.raises(CommandError) as caught:
        view.call("x-paint", None)
    assert caught.value.desc == "The command x-paint has not been found"
    with pytest.raises(CommandError) as caught:
        view.call("old-paint", None)
    assert caught.value.desc == "Deprecated command old-paint disabled by policy"


def test_the_event_bus_sends_events_as_the_policy_shows_them(schema: Schema) -> None:
    class Sink:
        def __init__(self) -> None:
            self.messages: list[dict[str, Any]] = []

        def send_event(self, message: bytes) -> None:
            self.messages.append(msgspec.json.decode(message))

    sink = Sink()
    bus = EventBus(lambda delay, callback: None, {}, rules(schema, "deprecated-output=hide"))
    bus.add(sink)
    bus.emit("OLD_PAINTED", None)
    bus.emit("PAINTED", {"inner": {"a": 1, "old": 2, "x-new": 3}})
    bus.emit("X_PAINTED", None)
    assert [(m["event"], m.get("data")) for m in sink.messages] == [
        ("PAINTED", {"inner": {"a": 1, "x-new": 3}}),
        ("X_PAINTED", None),
    ]


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(["red", "blue", "x-green", "fancy", "plain", "old", "brush"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["colours", "inner", "shape", "brush", "a", "old", "x-new", "kind"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    arguments=st.dictionaries(st.sampled_from(["colours", "inner", "shape", "brush", "n"]), JSON)
)
def test_any_arguments_get_a_refusal_or_pass(schema: Schema, arguments: dict[str, Any]) -> None:
    # whatever a client sends, the policy answers with QEMU's refusal or lets it through
    for text in ("deprecated-input=reject,unstable-input=reject", "deprecated-input=reject"):
        try:
            rules(schema, text).check_input("paint", arguments)
        except CommandError as error:
            assert error.error_class.value == "GenericError"
            assert error.desc.endswith(" disabled by policy")
