"""``schema diff``: who a change between two versions of a schema breaks, by QEMU's rules.

:mod:`.walk` pairs the two schemas' structure from each command and event and names every
change (:class:`.changes.Change`); :mod:`.rules` is the table that says whom each kind of
change breaks; :mod:`.report` writes the result for people and for tools;
:mod:`.conditions` cuts a schema down to one build (``--define``).
"""

from __future__ import annotations

from .changes import Change
from .walk import diff_schemas

__all__ = ["Change", "diff_schemas"]
