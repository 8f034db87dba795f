"""The schema front end's speed caches, all of them, and the rule they keep.

QEMU's schema spells a few thousand names tens of thousands of times, so the checks that
depend on a name alone are remembered here.  The rule: a table holds only what is true of
a name whatever schema it is in (its C spelling, that it passed a naming check), never
anything about a definition, so a table can change how fast an answer comes but never
the answer.  Every table lives as long as the process and is bounded: past
:data:`MAX_ENTRIES` it is emptied and refilled, so a process that compiles many schemas
does not grow.

The front end's other speed measures are not caches and stay where they act: the fast
reader (:mod:`.fast_reader`) reads well-formed files with the C JSON decoder; the stages
that ``schema check`` runs import no ``typing`` at run time (``TYPE_CHECKING = False``
stands in for it); the cyclic garbage collector is paused while a schema is compiled
(:func:`pyqmp.schema.load_schema`); and a doc comment is frozen once
(``DocBlock.freeze``).  ``bench/schema_check.py`` measures the whole against QEMU's own
front end.
"""

from __future__ import annotations

MAX_ENTRIES = 100_000

#: name -> its C spelling with QEMU's protection of keywords (``names.c_name``).
C_NAMES: dict[str, str] = {}
#: name -> its C spelling without that protection.
C_NAMES_UNPROTECTED: dict[str, str] = {}
#: Names that passed ``names.check_name_lower`` without any exception being allowed.
GOOD_LOWER_NAMES: set[str] = set()
#: Member names that passed the name and reserved-name checks of ``exprs.check_type``.
GOOD_MEMBER_NAMES: set[str] = set()


def remember_c_name(table: dict[str, str], name: str, cname: str) -> str:
    """Put ``name -> cname`` in ``table`` (emptying it first if full); return ``cname``."""
    if len(table) >= MAX_ENTRIES:
        table.clear()
    table[name] = cname
    return cname


def remember_good(table: set[str], name: str) -> None:
    """Put ``name`` in ``table`` (emptying it first if full)."""
    if len(table) >= MAX_ENTRIES:
        table.clear()
    table.add(name)
