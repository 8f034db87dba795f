"""The diff as people read it, and as tools read it (JSON).

Source positions are shown relative to the directory of each side's top-level file, so that
two copies of a schema in different places read alike.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import SourceInfo
from .changes import Change
from .rules import RULES

# The order of the human report's sections, and their headings.
SECTIONS = (
    ("both", "Breaks senders and receivers"),
    ("senders", "Breaks senders"),
    ("receivers", "Breaks receivers"),
    ("deprecation", "Deprecations (break nothing)"),
    ("safe", "Safe"),
)


def _where(info: SourceInfo | None, top: str) -> str | None:
    if info is None:
        return None
    directory = os.path.dirname(os.path.abspath(top))
    fname = os.path.abspath(info.fname)
    if fname.startswith(directory + os.sep):
        fname = os.path.relpath(fname, directory)
    return f"{fname}:{info.line}"


def describe(change: Change) -> str:
    """``command 'x' → argument 'y': removed (int → str)``."""
    steps = " → ".join(change.path + ((change.subject,) if change.subject else ()))
    text = f"{steps}: {change.kind}"
    return text + (f" ({change.detail})" if change.detail else "")


def human_report(changes: list[Change], old_top: str, new_top: str) -> str:
    if not changes:
        return "No changes that a client can see.\n"
    lines = []
    for verdict, heading in SECTIONS:
        chosen = [change for change in changes if change.verdict == verdict]
        if not chosen:
            continue
        lines.append(f"{heading} ({len(chosen)}):")
        for change in chosen:
            old = _where(change.old, old_top) or "-"
            new = _where(change.new, new_top) or "-"
            lines.append(f"  {describe(change)}")
            lines.append(f"      old {old}  new {new}")
        lines.append("")
    lines.append(summary_line(changes))
    return "\n".join(lines) + "\n"


def summary_line(changes: list[Change]) -> str:
    counts = {verdict: 0 for verdict, _ in SECTIONS}
    for change in changes:
        counts[change.verdict] += 1
    breaking = counts["both"] + counts["senders"] + counts["receivers"]
    return (
        f"{breaking} breaking ({counts['senders']} senders, {counts['receivers']} receivers, "
        f"{counts['both']} both), {counts['safe']} safe, {counts['deprecation']} deprecations"
    )


def json_report(changes: list[Change], old_top: str, new_top: str) -> dict[str, Any]:
    return {
        "breaks": any(change.breaks for change in changes),
        "changes": [
            {
                "path": [*change.path, *((change.subject,) if change.subject else ())],
                "change": change.kind,
                "detail": change.detail,
                "verdict": change.verdict,
                "breaks": sorted(change.breaks),
                "directions": sorted(change.directions),
                "why": RULES[change.kind].why,
                "old": _where(change.old, old_top),
                "new": _where(change.new, new_top),
            }
            for change in changes
        ],
    }
