"""The ``--compat`` policy: what a server does with deprecated and unstable interfaces.

QEMU 7.2's ``-compat`` (``qapi/compat.json``): a client tests itself against the
future by having deprecated (or unstable) commands, arguments and enum values refused
(``reject``) or fatal (``crash``), and deprecated (unstable) members of replies and
events, and deprecated events, hidden (``hide``).  :class:`CompatPolicy` is the policy
and parses QEMU's option syntax; :class:`CompatRules` applies it to one schema, walking
the schema once to find which commands, arguments, replies and events have anything to
check, so that everything else costs nothing.  Texts and error classes are QEMU's
(``qapi/qapi-util.c``): "Deprecated command NAME disabled by policy" is CommandNotFound,
"... parameter NAME ..." and "... value VALUE ..." are GenericError.

The one rule: the default policy (accept everything) changes nothing, byte for byte.

One known departure from QEMU: the policy looks at the arguments before the
argument decoder does, so a request with both a refused member and, earlier in the
schema's order, a wrongly typed or missing one gets the policy's refusal where QEMU's
visitor would have given the type error first (either way it is refused).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from msgspec import to_builtins

from ..protocol.errors import (
    ErrorClass,
    disabled_by_policy,
    parameter_unexpected,
    parameter_value_refused,
)
from ..schema import model
from .errors import COMMAND_NOT_FOUND, GENERIC_ERROR, CommandError, ServerError

INPUT_POLICIES = ("accept", "reject", "crash")
OUTPUT_POLICIES = ("accept", "hide")
# QEMU's option members, in its order, and the values each takes.
_MEMBERS: dict[str, tuple[str, ...]] = {
    "deprecated-input": INPUT_POLICIES,
    "deprecated-output": OUTPUT_POLICIES,
    "unstable-input": INPUT_POLICIES,
    "unstable-output": OUTPUT_POLICIES,
}
# The special features, with the adjective QEMU's messages give them.
_ADJECTIVES = {"deprecated": "Deprecated", "unstable": "Unstable"}


class CompatError(ServerError):
    """A ``--compat`` option that cannot be understood; the message says what was expected."""


class CompatPolicy(NamedTuple):
    """QEMU's ``CompatPolicy``: every member ``accept`` unless told otherwise."""

    deprecated_input: str = "accept"
    deprecated_output: str = "accept"
    unstable_input: str = "accept"
    unstable_output: str = "accept"

    @classmethod
    def parse(cls, text: str) -> CompatPolicy:
        """A policy from QEMU's ``-compat`` syntax (``key=value,...``), with QEMU's errors.

        As QEMU's: a key given twice keeps its last value, members are checked in the
        policy's order before unknown keys are, and each ``-compat`` option is a whole
        policy: members it does not name are ``accept`` (see :func:`last_policy`).
        """
        pairs = _keyval(text)
        values: dict[str, str] = {}
        for key, allowed in _MEMBERS.items():
            value = pairs.pop(key, None)
            if value is None:
                continue
            if not isinstance(value, str):
                raise CompatError(f"Parameters '{key}.*' are unexpected")
            if value not in allowed:
                raise CompatError(parameter_value_refused(key, value))
            values[key.replace("-", "_")] = value
        for key in pairs:
            raise CompatError(parameter_unexpected(key))
        return cls(**values)

    def input_policy(self, feature: str) -> str:
        return self.deprecated_input if feature == "deprecated" else self.unstable_input

    def hides(self, features: tuple[model.Feature, ...]) -> bool:
        """Whether output with these features is hidden."""
        for feature in features:
            if feature.name == "deprecated" and self.deprecated_output == "hide":
                return True
            if feature.name == "unstable" and self.unstable_output == "hide":
                return True
        return False

    def describe(self) -> str:
        pairs = zip(_MEMBERS, self, strict=True)
        return ",".join(f"{key}={value}" for key, value in pairs if value != "accept")


DEFAULT_POLICY = CompatPolicy()

# QEMU's keyval syntax (util/keyval.c): a key is QAPI names joined by dots.
_KEY_FRAGMENT_RE = re.compile(r"(?:__[A-Za-z0-9.-]*_)?[A-Za-z][A-Za-z0-9_-]*")
_KEY_MAX = 127
_HELP = ("help", "?")


def _keyval(text: str) -> dict[str, str | dict[str, Any]]:
    """``key=value,...`` as QEMU's keyval parser reads it: ``,,`` is a comma in a value, a
    trailing comma is allowed, the last of a repeated key wins; a dotted key gives a
    nested object (which no member of the policy accepts)."""
    result: dict[str, str | dict[str, Any]] = {}
    position = 0
    while position < len(text):
        end = position
        while end < len(text) and text[end] not in "=,":
            end += 1
        key = text[position:end]
        if key and (end == len(text) or text[end] != "=") and key in _HELP:
            raise CompatError("Help is not available for this option")
        fragments = key.split(".")
        if not all(_KEY_FRAGMENT_RE.fullmatch(fragment) for fragment in fragments):
            raise CompatError(f"Invalid parameter '{key}'")
        for fragment in fragments:
            if len(fragment) > _KEY_MAX:
                what = " fragment" if len(fragments) > 1 else ""
                raise CompatError(f"Parameter{what} '{fragment}' is too long")
        if end == len(text) or text[end] != "=":
            raise CompatError(f"Expected '=' after parameter '{key}'")
        value, position = _keyval_value(text, end + 1)
        if len(fragments) == 1:
            result[key] = value
        else:  # only its first name matters: the policy has no object members
            result[fragments[0]] = {".".join(fragments[1:]): value}
    return result


def _keyval_value(text: str, position: int) -> tuple[str, int]:
    """The value starting at ``position`` (``,,`` read as ``,``), and where the next key
    starts."""
    value: list[str] = []
    while position < len(text):
        char = text[position]
        if char == ",":
            if text[position + 1 : position + 2] != ",":
                return "".join(value), position + 1
            position += 1
        value.append(char)
        position += 1
    return "".join(value), position


def last_policy(options: Iterable[str]) -> CompatPolicy:
    """The policy of repeated ``--compat`` options: each is parsed (any error is an
    error), and, as QEMU's ``-compat``, the last one replaces the ones before it."""
    policy = DEFAULT_POLICY
    for text in options:
        try:
            policy = CompatPolicy.parse(text)
        except CompatError as error:
            raise CompatError(f"--compat {text}: {error}") from None
    return policy


def crash(what: str) -> None:
    """End the process as QEMU's ``abort()`` does (SIGABRT), saying why first."""
    sys.stderr.write(f"pyqmp: {what} used, and the compat policy says crash: aborting\n")
    sys.stderr.flush()
    os.abort()


# A value that an event's filter says must not be sent at all.
HIDDEN_EVENT = object()


class CompatRules:
    """A policy applied to one schema's commands and events."""

    def __init__(
        self,
        schema: model.Schema,
        policy: CompatPolicy,
        on_crash: Callable[[str], None] = crash,
    ) -> None:
        self.schema = schema
        self.policy = policy
        self._on_crash = on_crash
        types = schema.types
        self._input_types = _TypesWith(types, self._checks_input, enum_values=True)
        # QEMU hides members only: an enum value in a reply is sent whatever its features
        self._output_types = _TypesWith(types, policy.hides, enum_values=False)
        # commands the policy refuses (or crashes on) whatever their arguments
        self.refused_commands = frozenset(
            name
            for name, command in schema.commands.items()
            if self._checks_input(command.features)
        )
        self.checked_commands = frozenset(
            name
            for name, command in schema.commands.items()
            if self._checks_input(command.features) or self._input_types.reach(command.arg_type)
        )
        # command (event) -> its reply's (data's) type, where it reaches something hidden
        self.filtered_replies = {
            name: command.ret_type
            for name, command in schema.commands.items()
            if command.ret_type is not None and self._output_types.reach(command.ret_type)
        }
        self.hidden_events = frozenset(
            name for name, event in schema.events.items() if policy.hides(event.features)
        )
        self.filtered_events = {
            name: event.arg_type
            for name, event in schema.events.items()
            if event.arg_type is not None and self._output_types.reach(event.arg_type)
        }

    def _checks_input(self, features: tuple[model.Feature, ...]) -> bool:
        return any(f.is_special and self.policy.input_policy(f.name) != "accept" for f in features)

    # -- input ---------------------------------------------------------------------------

    def check_input(self, name: str, arguments: Mapping[str, Any] | None) -> None:
        """Raise QEMU's :class:`CommandError` if the policy refuses this request (or end
        the process, for ``crash``).  Checks the command, then its arguments in the
        schema's member order, as QEMU's dispatcher and input visitor do."""
        if name not in self.checked_commands:
            return
        command = self.schema.commands[name]
        self._allow(command.features, "command", name, COMMAND_NOT_FOUND)
        if command.arg_type is not None and arguments:
            for kind, label, features in _special_inputs(
                self.schema.types, command.arg_type, arguments, self._input_types
            ):
                self._allow(features, kind, label, GENERIC_ERROR)

    def _allow(
        self, features: tuple[model.Feature, ...], kind: str, name: str, error_class: ErrorClass
    ) -> None:
        for feature in features:
            if not feature.is_special:
                continue
            policy = self.policy.input_policy(feature.name)
            if policy == "accept":
                continue
            adjective = _ADJECTIVES[feature.name]
            if policy == "crash":
                self._on_crash(f"{adjective.lower()} {kind} {name}")
            raise CommandError(disabled_by_policy(adjective, kind, name), error_class)

    # -- output --------------------------------------------------------------------------

    def filter_reply(self, name: str, result: Any) -> Any:
        """``result`` of command ``name`` without the members the policy hides."""
        return self._filter(self.filtered_replies.get(name), result)

    def filter_event(self, name: str, data: Any) -> Any:
        """``data`` of event ``name`` without hidden members, or :data:`HIDDEN_EVENT`."""
        if name in self.hidden_events:
            return HIDDEN_EVENT
        return self._filter(self.filtered_events.get(name), data)

    def _filter(self, type_name: str | None, value: Any) -> Any:
        if type_name is None or value is None:
            return value  # nothing to hide: the value as it is, not a copy
        return self._prune(type_name, to_builtins(value))

    def _prune(self, type_name: str, value: Any) -> Any:
        if not self._output_types.reach(type_name):
            return value
        typ = self.schema.types[type_name]
        if isinstance(typ, model.ArrayType):
            if isinstance(value, list):
                return [self._prune(typ.element_type, item) for item in value]
            return value
        if isinstance(typ, model.AlternateType):
            if isinstance(value, dict):
                for variant in typ.variants:
                    if isinstance(self.schema.types[variant.type], model.ObjectType):
                        return self._prune(variant.type, value)
            return value
        if not isinstance(typ, model.ObjectType) or not isinstance(value, dict):
            return value
        members = {m.name: m for m in _members_of(self.schema.types, typ, value)}
        kept = {}
        for key, item in value.items():
            member = members.get(key)
            if member is None:
                kept[key] = item  # not the schema's: not the policy's business
            elif not self.policy.hides(member.features):
                kept[key] = self._prune(member.type, item)
        return kept


def _members_of(
    types: Mapping[str, model.SchemaType], typ: model.ObjectType, value: Mapping[str, Any]
) -> Iterator[model.ObjectMember]:
    """The members of ``typ`` for ``value``: its own, then the branch its tag selects."""
    yield from typ.members
    if typ.variants and typ.tag is not None:
        tag = value.get(typ.tag)
        for variant in typ.variants:
            if variant.name == tag:
                branch = types[variant.type]
                if isinstance(branch, model.ObjectType):
                    yield from _members_of(types, branch, value)
                return


class _TypesWith:
    """Which types reach something (a member, or an enum value if ``enum_values``) with
    features ``wanted`` says yes to; computed once per type, cycles included."""

    def __init__(
        self,
        types: Mapping[str, model.SchemaType],
        wanted: Callable[[tuple[model.Feature, ...]], bool],
        enum_values: bool,
    ) -> None:
        self.types = types
        self.wanted = wanted
        self.enum_values = enum_values
        self._known: dict[str, bool] = {}

    def reach(self, name: str | None) -> bool:
        if name is None:
            return False
        known = self._known.get(name)
        if known is None:
            known = self._known[name] = self._search(name, set())
        return known

    def _search(self, name: str, seen: set[str]) -> bool:
        if name in seen:
            return False
        seen.add(name)
        typ = self.types[name]
        if isinstance(typ, model.EnumType):
            return self.enum_values and any(self.wanted(value.features) for value in typ.members)
        if isinstance(typ, model.ArrayType):
            return self._search(typ.element_type, seen)
        if isinstance(typ, model.AlternateType):
            return any(self._search(v.type, seen) for v in typ.variants)
        if isinstance(typ, model.ObjectType):
            if any(self.wanted(m.features) or self._search(m.type, seen) for m in typ.members):
                return True
            return any(self._search(v.type, seen) for v in typ.variants or ())
        return False


def _special_inputs(
    types: Mapping[str, model.SchemaType], type_name: str, value: Any, reach: _TypesWith
) -> Iterator[tuple[str, str, tuple[model.Feature, ...]]]:
    """Each member or enum value in ``value`` that has features, in visiting order:
    ``("parameter", member name, features)`` or ``("value", enum value, features)``.

    A loop over a stack, not recursion: the client decides how deep ``value`` is (up to
    the protocol's nesting limit, deeper than Python's recursion limit)."""
    # ("visit", type name, value) or ("found", kind, label, features); last pushed, first done
    stack: list[tuple[Any, ...]] = [("visit", type_name, value)]
    while stack:
        item = stack.pop()
        if item[0] == "found":
            yield item[1], item[2], item[3]
            continue
        _, name, current = item
        if not reach.reach(name):
            continue
        typ = types[name]
        later: list[tuple[Any, ...]] = []  # this value's parts, in visiting order
        if isinstance(typ, model.EnumType):
            if isinstance(current, str):
                for enum_value in typ.members:
                    if enum_value.name == current and enum_value.features:
                        later.append(("found", "value", current, enum_value.features))
        elif isinstance(typ, model.ArrayType):
            if isinstance(current, list):
                later = [("visit", typ.element_type, element) for element in current]
        elif isinstance(typ, model.AlternateType):
            later = [("visit", variant.type, current) for variant in typ.variants]
        elif isinstance(typ, model.ObjectType) and isinstance(current, Mapping):
            for member in _members_of(types, typ, current):
                if member.name in current:
                    if member.features:
                        later.append(("found", "parameter", member.name, member.features))
                    later.append(("visit", member.type, current[member.name]))
        stack.extend(reversed(later))
