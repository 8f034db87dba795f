"""The agent part's exceptions: one hierarchy, each error saying where it happened.

Options a user wrote (:class:`AgentOptionError`) and names that cannot travel on NATS
(:class:`SubjectError`) are refused with what was expected.  Failures of a monitor or of
NATS while the agent runs are not exceptions a caller sees: they become state (``qemu_up
0``, a reconnect counted, an error reply on NATS), because one VM's trouble must never stop
the agent.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every exception :mod:`pyqmp.agent` raises."""


class AgentOptionError(AgentError, ValueError):
    """A command-line value of ``pyqmp agent`` or ``pyqmp fleet`` that cannot be used."""


class SubjectError(AgentError, ValueError):
    """A NATS subject or subject token that is not one the fleet's scheme produces."""
