"""Who each kind of schema change breaks: QEMU's compatibility rules as one table.

QEMU's ``docs/devel/qapi-code-gen.rst`` ("Compatibility considerations") judges a change by
where it sits: in what clients *send* (a command's arguments and every type reached from
them) or in what they *receive* (a command's return value, an event's data, and the types
reached from those). A type reached from both is judged both ways. Each row below says whom
the change breaks when it sits on the sending side and when it sits on the receiving side;
``None`` is nobody. The walk (:mod:`.walk`) only names changes; this table alone decides.
"""

from __future__ import annotations

from typing import NamedTuple

SENDERS = "senders"
RECEIVERS = "receivers"
INPUT = "input"  # what clients send
OUTPUT = "output"  # what clients receive


class Rule(NamedTuple):
    on_input: str | None  # who breaks when the change is in what clients send
    on_output: str | None  # who breaks when it is in what clients receive
    why: str
    deprecation: bool = False  # listed apart: breaks nothing, tells clients what to change


S, R = SENDERS, RECEIVERS

RULES: dict[str, Rule] = {
    # definitions (a command is sent, an event received)
    "command removed": Rule(S, None, "clients that send it get CommandNotFound"),
    "command added": Rule(None, None, "opt-in functionality"),
    "event removed": Rule(None, R, "clients that wait for it wait forever"),
    "event added": Rule(None, None, "clients ignore events they do not know"),
    "out-of-band execution removed": Rule(S, None, "clients that run it out of band fail"),
    "out-of-band execution added": Rule(None, None, "opt-in functionality"),
    "reply withdrawn": Rule(None, R, "clients that wait for the reply wait forever"),
    "reply added": Rule(None, None, "a reply that was not awaited can be ignored"),
    # members of objects (a command's arguments are the members of its argument type)
    "removed": Rule(S, R, "what a client sends is refused; what it reads is missing"),
    "optional member removed": Rule(
        S, None, "senders who give it are refused; receivers already cope with its absence"
    ),
    "added, mandatory": Rule(S, None, "old senders do not give it"),
    "added, optional": Rule(
        None, None, "senders may omit it; receivers ignore what they do not know"
    ),
    "made optional": Rule(None, R, "receivers may now find it absent"),
    "made mandatory": Rule(S, None, "old senders may omit it"),
    # enum values and union branches (a union's branches are its tag's values)
    "enum value removed": Rule(
        S, None, "senders who give it are refused; a value never sent is no loss to receivers"
    ),
    "enum value added": Rule(None, R, "receivers meet a value they do not know"),
    "branch removed": Rule(S, None, "senders who chose it are refused; receivers never see it"),
    "branch added": Rule(None, R, "receivers meet a branch they do not know"),
    # alternates: the branches are told apart by JSON type
    "alternative removed": Rule(S, None, "senders who used that JSON type are refused"),
    "alternative added": Rule(None, R, "receivers meet a JSON type they do not expect"),
    # the JSON a position accepts
    "type widened": Rule(None, R, "accepts all the old JSON and more"),
    "type narrowed": Rule(S, None, "accepts only part of the old JSON"),
    "type changed": Rule(S, R, "the old JSON is not the new JSON"),
    # what no client sees on the wire
    "deprecated": Rule(None, None, "still works; clients should stop using it", True),
    "no longer deprecated": Rule(None, None, "clients may keep using it", True),
    "features changed": Rule(None, None, "features other than 'deprecated' break nothing"),
    "condition changed": Rule(None, None, "'if' conditions decide builds, not the protocol"),
}


def breaks(kind: str, directions: frozenset[str]) -> frozenset[str]:
    """Who a change of ``kind`` breaks, reached in ``directions`` (INPUT, OUTPUT)."""
    rule = RULES[kind]
    who = set()
    if INPUT in directions and rule.on_input is not None:
        who.add(rule.on_input)
    if OUTPUT in directions and rule.on_output is not None:
        who.add(rule.on_output)
    return frozenset(who)
