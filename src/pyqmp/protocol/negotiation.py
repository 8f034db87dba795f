"""Capabilities negotiation: what a server offers, and ``qmp_capabilities`` checked as
QEMU checks it.

QEMU validates the command's arguments with its generated QAPI visitor before the
command itself runs, so the errors (and which one comes first) are the visitor's:
``enable`` must be an array of known capability names, any other member is unexpected
(the one GLib's hash table yields first is named).  Then the command asks for each
capability to be on offer (``Capability oob not available``).  Only ``oob`` exists in
QEMU 7.2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .errors import parameter_type_invalid, parameter_unexpected, parameter_value_refused
from .qemu_json import JSONValue
from .qemu_order import first_unvisited_member

QMP_CAPABILITIES: Final = "qmp_capabilities"
OOB: Final = "oob"
#: Every capability QEMU 7.2 knows (``QMPCapability``), in its enum order.
KNOWN_CAPABILITIES: Final = (OOB,)

ALREADY_NEGOTIATED: Final = "Capabilities negotiation is already complete, command ignored"
EXPECTING_NEGOTIATION: Final = "Expecting capabilities negotiation with 'qmp_capabilities'"
NOT_AVAILABLE: Final = "Capability {} not available"


def check_arguments(arguments: dict[str, JSONValue]) -> str | list[str]:
    """The capabilities ``qmp_capabilities`` asks for, or the visitor's error text."""
    enable = arguments.get("enable")
    requested: list[str] = []
    if "enable" in arguments:
        if type(enable) is not list:
            return parameter_type_invalid("enable", "array")
        for index, capability in enumerate(enable):
            if type(capability) is not str:
                return parameter_type_invalid(f"enable[{index}]", "string")
            if capability not in KNOWN_CAPABILITIES:
                # QEMU's enum visitor names list elements 'null' here.
                return parameter_value_refused("null", capability)
            requested.append(capability)
    if len(arguments) > ("enable" in arguments):
        unexpected = first_unvisited_member(list(arguments), ("enable",))
        assert unexpected is not None  # a member other than 'enable' is there
        return parameter_unexpected(unexpected)
    return requested


def missing_capabilities(requested: Sequence[str], offered: Sequence[str]) -> str:
    """The requested capabilities not on offer, as QEMU lists them in
    :data:`NOT_AVAILABLE` (``""`` if every one is offered)."""
    return ", ".join(capability for capability in requested if capability not in offered)
