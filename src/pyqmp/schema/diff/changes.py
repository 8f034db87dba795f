"""One change between two schemas: where it is, what it is, and whom it breaks."""

from __future__ import annotations

from typing import NamedTuple

from ..errors import SourceInfo
from .rules import RECEIVERS, RULES, SENDERS


class Change(NamedTuple):
    """A change found by the walk.

    ``path`` leads from a command or event to the definition that changed (``command
    'balloon'``, ``argument 'value'``...); ``subject`` is what changed in it (a member, an enum
    value, a branch) or None when the path's last step itself changed. ``old`` and ``new`` are
    where it is defined on each side (for something removed or added, the side without it
    gives the definition that would hold it). ``directions`` are the sides (input, output)
    it was reached from; ``breaks`` is the rule's verdict for those.
    """

    kind: str
    path: tuple[str, ...]
    subject: str | None
    old: SourceInfo | None
    new: SourceInfo | None
    detail: str | None
    directions: frozenset[str]
    breaks: frozenset[str]

    @property
    def verdict(self) -> str:
        """'both', 'senders', 'receivers', 'deprecation' or 'safe'."""
        if self.breaks == {SENDERS, RECEIVERS}:
            return "both"
        if self.breaks:
            return next(iter(self.breaks))
        return "deprecation" if RULES[self.kind].deprecation else "safe"
