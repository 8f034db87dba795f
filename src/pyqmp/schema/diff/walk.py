"""Walk two schemas side by side from their commands and events, naming every change.

Names of types are not part of the protocol (introspection masks them), so the walk never
pairs types by name: it starts from each command's arguments and return value and each
event's data, and follows the types those positions use on each side, as introspection
reaches them. Objects are compared by their whole member list (base members included, so a
member moved into a base is no change), unions branch by branch, alternates by the JSON type
that picks each branch, scalars by the JSON they accept. A pair of types is walked once per
direction, breadth first, with a queue rather than recursion however deep types nest; a change
found in a type reached from many places is reported once, at the first path that reached it
(commands, then events, in order) from the side it breaks. Whom a change breaks is not
decided here but by :mod:`.rules`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from .. import model
from ..errors import SourceInfo
from ..model import Condition, Feature, ObjectMember, Schema
from .changes import Change
from .rules import INPUT, OUTPUT, RECEIVERS, SENDERS, breaks
from .scalars import accepted_change, json_kind

_EMPTY = "q_empty"
_Definition = model.Command | model.Event
Key = tuple[object, ...]  # what a change is about: the same change reached twice is one
Where = tuple[SourceInfo | None, SourceInfo | None]  # its source in OLD and in NEW


class Path(NamedTuple):
    """A path from a command or event, as a chain: walking deep types shares the prefixes."""

    parent: Path | None
    step: str

    def then(self, step: str) -> Path:
        return Path(self, step)

    def steps(self) -> tuple[str, ...]:
        steps = []
        path: Path | None = self
        while path is not None:
            steps.append(path.step)
            path = path.parent
        return tuple(reversed(steps))


class _Found:
    __slots__ = ("detail", "kind", "new", "old", "paths", "subject")

    def __init__(
        self,
        kind: str,
        subject: str | None,
        old: SourceInfo | None,
        new: SourceInfo | None,
        detail: str | None,
    ) -> None:
        self.kind = kind
        self.paths: dict[str, Path] = {}  # the first path from each direction
        self.subject = subject
        self.old = old
        self.new = new
        self.detail = detail


class _Walker:
    def __init__(self, old: Schema, new: Schema) -> None:
        self.old = old
        self.new = new
        self.found: dict[Key, _Found] = {}
        self.walked: set[tuple[str, str, str]] = set()
        # positions still to compare: a queue, not recursion, however deep the types nest
        self.pending: deque[tuple[str, str, Path, str, str, Key, Where]] = deque()

    # -- recording --------------------------------------------------------------------

    def record(
        self,
        key: Key,
        kind: str,
        path: Path,
        direction: str,
        subject: str | None = None,
        where: Where = (None, None),
        detail: str | None = None,
    ) -> None:
        found = self.found.get((kind, *key))
        if found is None:
            found = self.found[(kind, *key)] = _Found(kind, subject, *where, detail)
        found.paths.setdefault(direction, path)

    def changes(self) -> list[Change]:
        changes = []
        for f in self.found.values():
            directions = frozenset(f.paths)
            who = breaks(f.kind, directions)
            # shown from where it breaks someone: a sender's path for what breaks senders
            if SENDERS in who:
                path = f.paths[INPUT]
            elif RECEIVERS in who:
                path = f.paths[OUTPUT]
            else:
                path = next(iter(f.paths.values()))
            changes.append(
                Change(f.kind, path.steps(), f.subject, f.old, f.new, f.detail, directions, who)
            )
        return changes

    def marks(
        self,
        key: Key,
        path: Path,
        direction: str,
        subject: str | None,
        old: tuple[Condition, tuple[Feature, ...], SourceInfo | None],
        new: tuple[Condition, tuple[Feature, ...], SourceInfo | None],
    ) -> None:
        """Deprecation, features and condition of something present on both sides."""
        (old_if, old_features, old_info), (new_if, new_features, new_info) = old, new
        where = (old_info, new_info)
        old_names = {f.name for f in old_features}
        new_names = {f.name for f in new_features}
        if ("deprecated" in new_names) != ("deprecated" in old_names):
            kind = "deprecated" if "deprecated" in new_names else "no longer deprecated"
            self.record(key, kind, path, direction, subject, where)
        others_old, others_new = old_names - {"deprecated"}, new_names - {"deprecated"}
        if others_old != others_new:
            detail = f"{_names(others_old)} → {_names(others_new)}"
            self.record(key, "features changed", path, direction, subject, where, detail)
        if old_if != new_if:
            detail = f"{_condition(old_if)} → {_condition(new_if)}"
            self.record(key, "condition changed", path, direction, subject, where, detail)

    # -- definitions ------------------------------------------------------------------

    def walk(self) -> list[Change]:
        self.definitions("command", self.old.commands, self.new.commands, INPUT, self.command)
        self.definitions("event", self.old.events, self.new.events, OUTPUT, self.event)
        return self.changes()

    def definitions(
        self,
        kind: str,
        old: Mapping[str, _Definition],
        new: Mapping[str, _Definition],
        direction: str,
        compare: Callable[[Path, Any, Any], None],
    ) -> None:
        """Commands or events: each one removed, compared (and its types drained), added."""
        for name, definition in old.items():
            path = Path(None, f"{kind} '{name}'")
            other = new.get(name)
            if other is None:
                self.record(
                    (kind, name), f"{kind} removed", path, direction, where=(definition.info, None)
                )
                continue
            compare(path, definition, other)
            self.drain()
        for name, definition in new.items():
            if name not in old:
                path = Path(None, f"{kind} '{name}'")
                self.record(
                    (kind, name), f"{kind} added", path, direction, where=(None, definition.info)
                )

    def event(self, path: Path, old: model.Event, new: model.Event) -> None:
        key = ("event", old.name)
        self.marks(
            key, path, OUTPUT, None, (old.ifcond, old.features, old.info),
            (new.ifcond, new.features, new.info),
        )  # fmt: skip
        self.type(
            old.arg_type or _EMPTY, new.arg_type or _EMPTY, path, OUTPUT, "member", key,
            (old.info, new.info),
        )  # fmt: skip

    def command(self, path: Path, old: model.Command, new: model.Command) -> None:
        key = ("command", old.name)
        self.marks(
            key, path, INPUT, None, (old.ifcond, old.features, old.info),
            (new.ifcond, new.features, new.info),
        )  # fmt: skip
        if old.allow_oob != new.allow_oob:
            kind = "out-of-band execution " + ("added" if new.allow_oob else "removed")
            self.record(key, kind, path, INPUT, where=(old.info, new.info))
        if old.success_response != new.success_response:  # 'success-response': false
            kind = "reply added" if new.success_response else "reply withdrawn"
            self.record(key, kind, path, OUTPUT, where=(old.info, new.info))
        at = (old.info, new.info)
        self.type(
            old.arg_type or _EMPTY, new.arg_type or _EMPTY, path, INPUT, "argument",
            (*key, "arguments"), at,
        )  # fmt: skip
        self.type(
            old.ret_type or _EMPTY, new.ret_type or _EMPTY, path.then("returns"), OUTPUT, "member",
            (*key, "returns"), at,
        )  # fmt: skip

    # -- types ------------------------------------------------------------------------

    def type(
        self,
        old_name: str,
        new_name: str,
        path: Path,
        direction: str,
        label: str,
        position: Key,
        at: Where,
    ) -> None:
        """Compare, in turn, the types used at one position."""
        self.pending.append((old_name, new_name, path, direction, label, position, at))

    def drain(self) -> None:
        while self.pending:
            self.visit(*self.pending.popleft())

    def visit(
        self,
        old_name: str,
        new_name: str,
        path: Path,
        direction: str,
        label: str,
        position: Key,
        at: tuple[SourceInfo | None, SourceInfo | None],
    ) -> None:
        """Compare the types used at one position (a member, a command's arguments...).

        A change of what the position accepts is recorded at the position (``at`` gives its
        source on both sides); the structure inside named types is walked once per pair.
        """
        old, new = self.old.types[old_name], self.new.types[new_name]
        old_kind, new_kind = json_kind(old), json_kind(new)
        if "alternate" in (old_kind, new_kind):
            self.alternatives(old, new, path, direction, position, at)
            return
        kind = accepted_change(old, new)
        if kind is None and isinstance(old, model.ArrayType) and isinstance(new, model.ArrayType):
            step = Path(path.parent, path.step + "[]")
            self.type(
                old.element_type, new.element_type, step, direction, "member",
                (*position, "[]"), at,
            )  # fmt: skip
            return
        if kind is not None:
            detail = f"{_kind_name(old)} → {_kind_name(new)}"
            self.record(position, kind, path, direction, None, at, detail)
            return
        if (old_name, new_name, direction) in self.walked:
            return
        self.walked.add((old_name, new_name, direction))
        if isinstance(old, model.ObjectType) and isinstance(new, model.ObjectType):
            self.type_marks(old, new, path, direction)
            self.object(old, new, path, direction, label, at)
        elif isinstance(old, model.EnumType) and isinstance(new, model.EnumType):
            self.type_marks(old, new, path, direction)
            self.enum(old, new, path, direction, "enum value")

    def type_marks(
        self,
        old: model.ObjectType | model.EnumType | model.AlternateType,
        new: model.ObjectType | model.EnumType | model.AlternateType,
        path: Path,
        direction: str,
    ) -> None:
        if isinstance(old, model.ObjectType) and old.is_implicit:
            return  # an implicit type's marks are its command's or event's
        self.marks(
            ("type", old.name, new.name), path, direction, None,
            (old.ifcond, old.features, old.info), (new.ifcond, new.features, new.info),
        )  # fmt: skip

    def enum(
        self,
        old: model.EnumType,
        new: model.EnumType,
        path: Path,
        direction: str,
        what: str,
    ) -> None:
        new_values = {value.name: value for value in new.members}
        old_values = {value.name for value in old.members}
        for value in old.members:
            key = ("value", old.name, new.name, value.name)
            subject = f"{what.split()[-1]} '{value.name}'"
            other = new_values.get(value.name)
            if other is None:
                kind = f"{what} removed"
                self.record(key, kind, path, direction, subject, (value.info or old.info, new.info))
                continue
            self.marks(
                key, path, direction, subject, (value.ifcond, value.features, value.info),
                (other.ifcond, other.features, other.info),
            )  # fmt: skip
        for value in new.members:
            if value.name not in old_values:
                key = ("value", old.name, new.name, value.name)
                subject = f"{what.split()[-1]} '{value.name}'"
                kind = f"{what} added"
                self.record(key, kind, path, direction, subject, (old.info, value.info or new.info))

    def object(
        self,
        old: model.ObjectType,
        new: model.ObjectType,
        path: Path,
        direction: str,
        label: str,
        at: Where,
    ) -> None:
        # an implicit empty type has no source: its command's or event's stands in
        containers = (old.info or at[0], new.info or at[1])
        both_tag = old.tag if old.tag is not None and old.tag == new.tag else None
        common = {m.name for m in old.members} & {m.name for m in new.members}
        old_branches = self.branches(self.old, old)
        new_branches = self.branches(self.new, new)
        if old_branches is None and new_branches is None:
            self.members(old.members, new.members, containers, path, direction, label, None)
            return
        # A member in one side's base only, where the other side has branches, is compared
        # branch by branch below: it may have moved between the base and the branches, which
        # no client sees.
        old_base = [m for m in old.members if m.name in common or new_branches is None]
        new_base = [m for m in new.members if m.name in common or old_branches is None]
        self.members(old_base, new_base, containers, path, direction, label, both_tag)
        common = {m.name for m in old_base} | {m.name for m in new_base}
        if both_tag is not None:
            old_tag = self.old.types[_member(old.members, both_tag).type]
            new_tag = self.new.types[_member(new.members, both_tag).type]
            step = path.then(f"{label} '{both_tag}'")
            if isinstance(old_tag, model.EnumType) and isinstance(new_tag, model.EnumType):
                self.enum(old_tag, new_tag, step, direction, "branch")
        if old_branches is None:
            old_branches = {value: () for value in new_branches or {}}
        if new_branches is None:
            new_branches = {value: () for value in old_branches}
        for value, old_members in old_branches.items():
            new_members = new_branches.get(value)
            if new_members is None:
                continue
            self.members(
                tuple(m for m in (*old.members, *old_members) if m.name not in common),
                tuple(m for m in (*new.members, *new_members) if m.name not in common),
                containers, path.then(f"branch '{value}'"), direction, label, None,
            )  # fmt: skip

    def branches(
        self, schema: Schema, union: model.ObjectType
    ) -> dict[str, tuple[ObjectMember, ...]] | None:
        """Each tag value's own members (a value with no branch has none)."""
        if union.variants is None or union.tag is None:
            return None
        tag = schema.types[_member(union.members, union.tag).type]
        types = {variant.name: variant.type for variant in union.variants}
        values = [v.name for v in tag.members] if isinstance(tag, model.EnumType) else list(types)
        result = {}
        for value in values:
            branch = schema.types[types.get(value, _EMPTY)]
            result[value] = branch.members if isinstance(branch, model.ObjectType) else ()
        return result

    def members(
        self,
        old_members: Sequence[ObjectMember],
        new_members: Sequence[ObjectMember],
        containers: Where,
        path: Path,
        direction: str,
        label: str,
        skip_type_of: str | None,
    ) -> None:
        old_info, new_info = containers
        new_by_name = {m.name: m for m in new_members}
        old_names = {m.name for m in old_members}
        key: Key
        for member in old_members:
            subject = f"{label} '{member.name}'"
            other = new_by_name.get(member.name)
            if other is None:
                key = ("member", member.defined_in, None, member.name)
                kind = "optional member removed" if member.optional else "removed"
                self.record(key, kind, path, direction, subject, (member.info, new_info))
                continue
            key = ("member", member.defined_in, other.defined_in, member.name)
            where = (path, direction, subject, (member.info, other.info))
            if member.optional and not other.optional:
                self.record(key, "made mandatory", *where)
            elif other.optional and not member.optional:
                self.record(key, "made optional", *where)
            self.marks(
                key, path, direction, subject, (member.ifcond, member.features, member.info),
                (other.ifcond, other.features, other.info),
            )  # fmt: skip
            if member.name != skip_type_of:
                self.type(
                    member.type, other.type, path.then(subject), direction, "member", key,
                    (member.info, other.info),
                )  # fmt: skip
        for member in new_members:
            if member.name not in old_names:
                key = ("member", None, member.defined_in, member.name)
                kind = "added, optional" if member.optional else "added, mandatory"
                subject = f"{label} '{member.name}'"
                self.record(key, kind, path, direction, subject, (old_info, member.info))

    def alternatives(
        self,
        old: model.SchemaType,
        new: model.SchemaType,
        path: Path,
        direction: str,
        key: Key,
        at: tuple[SourceInfo | None, SourceInfo | None],
    ) -> None:
        """A position where either side is an alternate: each JSON type it accepts."""
        old_branches = self.alternative_kinds(self.old, old)
        new_branches = self.alternative_kinds(self.new, new)
        info: Where = at
        if isinstance(old, model.AlternateType) and isinstance(new, model.AlternateType):
            self.type_marks(old, new, path, direction)
        elif isinstance(new, model.AlternateType):  # a type widened to an alternate
            if json_kind(old) in new_branches:
                detail = f"{_kind_name(old)} → alternate {new.name}"
                self.record(key, "type widened", path, direction, None, info, detail)
            else:
                detail = f"{_kind_name(old)} → alternate {new.name} without {json_kind(old)}"
                self.record(key, "type changed", path, direction, None, info, detail)
                return
        elif json_kind(new) in old_branches:  # an alternate narrowed to one of its types
            detail = f"alternate {old.name} → {_kind_name(new)}"
            self.record(key, "type narrowed", path, direction, None, info, detail)
        else:
            detail = f"alternate {old.name} → {_kind_name(new)}"
            self.record(key, "type changed", path, direction, None, info, detail)
            return
        both_alternates = isinstance(old, model.AlternateType) and isinstance(
            new, model.AlternateType
        )
        if both_alternates:
            if (old.name, new.name, direction) in self.walked:
                return
            self.walked.add((old.name, new.name, direction))
            info = (_info(old), _info(new))
        for kind, old_branch in old_branches.items():
            subject = f"alternative {kind}"
            new_branch = new_branches.get(kind)
            if new_branch is None:
                if both_alternates:
                    self.record(
                        ("alternative", old.name, new.name, kind), "alternative removed",
                        path, direction, subject, info,
                    )  # fmt: skip
                continue
            self.type(
                old_branch, new_branch, path.then(subject), direction, "member",
                ("alternative", old.name, new.name, kind), at,
            )  # fmt: skip
        for kind in new_branches:
            if kind not in old_branches and both_alternates:
                self.record(
                    ("alternative", old.name, new.name, kind), "alternative added",
                    path, direction, f"alternative {kind}", info,
                )  # fmt: skip

    def alternative_kinds(self, schema: Schema, typ: model.SchemaType) -> dict[str, str]:
        """The type of each branch of an alternate (or of ``typ`` itself), by JSON kind."""
        if isinstance(typ, model.AlternateType):
            return {json_kind(schema.types[v.type]): v.type for v in typ.variants}
        return {json_kind(typ): typ.name}


def _member(members: Sequence[ObjectMember], name: str) -> ObjectMember:
    return next(member for member in members if member.name == name)


def _info(typ: model.SchemaType) -> SourceInfo | None:
    return None if isinstance(typ, model.BuiltinType) else typ.info


def _kind_name(typ: model.SchemaType) -> str:
    if isinstance(typ, model.BuiltinType):
        return typ.name
    if isinstance(typ, model.ArrayType):
        return "array"
    return f"{typ.meta} {typ.name}"


def _names(names: set[str]) -> str:
    return "[" + ", ".join(sorted(names)) + "]"


def _condition(cond: Condition) -> str:
    if cond is None:
        return "always"
    if isinstance(cond, str):
        return cond
    (operator, operand), *_ = cond.items()
    if operator == "not":
        return f"not {_condition(operand)}"  # type: ignore[arg-type]
    parts = [_condition(c) for c in operand]  # type: ignore[attr-defined]
    return "(" + f" {'and' if operator == 'all' else 'or'} ".join(parts) + ")"


def diff_schemas(old: Schema, new: Schema) -> list[Change]:
    """Every change from ``old`` to ``new`` that a client could see, and whom it breaks."""
    return _Walker(old, new).walk()
