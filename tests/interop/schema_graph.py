"""Structural comparison of two `query-qmp-schema` results (lists of SchemaInfo objects).

Two implementations may mask type names differently ("123" on one side is "57" on the other),
so entries cannot be matched by name.  What a client can observe is the graph reached from each
command and event, so that is what is compared: command and event names must match, and from
each one the referenced types are walked on both sides in parallel, building a bijection between
the two sides' type names.  A name met again must map to the same partner as before, which checks
that type sharing is the same (two members using one type on one side, two look-alike types on
the other, is a difference a client can see: introspection tells them apart).  Every field of
each matched pair is compared.  Names that are not masked (builtins such as "int", command and
event names, array names built from them such as "[str]") must also be equal.

Differences come back as readable strings whose prefix is the path by which the entry was first
reached, e.g. "command blockdev-add arg-type .members[3] 'discard' .type: type differs: ...".
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SchemaInfo = Mapping[str, Any]

# Keys whose values are compared by a dedicated rule; any other key is compared with ==.
_STRUCTURAL_KEYS = frozenset(
    {
        "name",
        "meta-type",
        "json-type",
        "members",
        "values",
        "tag",
        "variants",
        "element-type",
        "features",
        "arg-type",
        "ret-type",
        "allow-oob",
    }
)


def is_masked_name(name: str) -> bool:
    """QEMU masks non-builtin type names as decimal numbers; pyqmp does the same."""
    return name.isdigit()


def is_array_name(name: str) -> bool:
    return name.startswith("[") and name.endswith("]")


def _describe(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f"'{value}'"


def _list_difference(
    what: str, left: Sequence[Any], right: Sequence[Any], left_label: str, right_label: str
) -> str | None:
    """Explain how two order-sensitive lists of names differ, or None when equal."""
    if list(left) == list(right):
        return None
    left_counts, right_counts = Counter(left), Counter(right)
    only_left = [item for item in left if left_counts[item] > right_counts[item]]
    only_right = [item for item in right if right_counts[item] > left_counts[item]]
    parts: list[str] = []
    if only_left:
        parts.append(f"only {left_label} has {', '.join(_describe(i) for i in only_left)}")
    if only_right:
        parts.append(f"only {right_label} has {', '.join(_describe(i) for i in only_right)}")
    if not parts:
        parts.append(f"order differs: {left_label} {list(left)!r}, {right_label} {list(right)!r}")
    return f"{what} differ: " + "; ".join(parts)


@dataclass
class _Side:
    label: str
    entries: dict[str, SchemaInfo]
    partner: dict[str, str] = field(default_factory=dict)  # name -> other side's name
    first_path: dict[str, str] = field(default_factory=dict)  # name -> where it was linked


class SchemaGraphComparison:
    """One comparison run; use `compare_schema_infos` rather than this class directly."""

    def __init__(
        self,
        left: Sequence[SchemaInfo],
        right: Sequence[SchemaInfo],
        left_label: str,
        right_label: str,
    ) -> None:
        self.differences: list[str] = []
        self.left = self._index(left, left_label)
        self.right = self._index(right, right_label)
        self._pending: deque[tuple[str, str, str]] = deque()

    # -- bookkeeping -------------------------------------------------------------------------

    def _report(self, path: str, message: str) -> None:
        self.differences.append(f"{path}: {message}")

    def _index(self, infos: Sequence[SchemaInfo], label: str) -> _Side:
        entries: dict[str, SchemaInfo] = {}
        for position, info in enumerate(infos):
            name = info.get("name")
            if not isinstance(name, str):
                self._report(f"{label} entry [{position}]", "has no string 'name'")
                continue
            if name in entries:
                self._report(f"{label} entry '{name}'", "name is not unique")
                continue
            entries[name] = info
        return _Side(label, entries)

    def _link(self, left_name: Any, right_name: Any, path: str) -> None:
        """Record that left_name and right_name denote the same type, reached via path."""
        if not isinstance(left_name, str) or not isinstance(right_name, str):
            self._report(
                path,
                f"type name is not a string: {self.left.label} "
                f"{left_name!r}, {self.right.label} {right_name!r}",
            )
            return
        if not (
            (is_masked_name(left_name) and is_masked_name(right_name))
            or (is_array_name(left_name) and is_array_name(right_name))
            or left_name == right_name
        ):
            # Unmasked names (builtins, commands, events) are visible to clients as such.
            self._report(
                path,
                f"type differs: {self.left.label} '{left_name}', {self.right.label} '{right_name}'",
            )
            return
        sharing_ok = True
        for side, name, other_side, other_name in (
            (self.left, left_name, self.right, right_name),
            (self.right, right_name, self.left, left_name),
        ):
            known = side.partner.get(name)
            if known is not None and known != other_name:
                sharing_ok = False
                self._report(
                    path,
                    (
                        f"type sharing differs: {side.label} '{name}' already corresponds to "
                        f"{other_side.label} '{known}' (first reached at {side.first_path[name]}), "
                        f"but here to {other_side.label} '{other_name}'"
                    ),
                )
        if not sharing_ok or left_name in self.left.partner:
            return
        self.left.partner[left_name] = right_name
        self.right.partner[right_name] = left_name
        self.left.first_path[left_name] = path
        self.right.first_path[right_name] = path
        self._pending.append((left_name, right_name, path))

    def _drain(self) -> None:
        while self._pending:
            left_name, right_name, path = self._pending.popleft()
            left_info = self.left.entries.get(left_name)
            right_info = self.right.entries.get(right_name)
            missing = False
            for side, name, info in (
                (self.left, left_name, left_info),
                (self.right, right_name, right_info),
            ):
                if info is None:
                    missing = True
                    self._report(path, f"type '{name}' is not defined on {side.label}")
            if left_info is not None and right_info is not None and not missing:
                self._compare_entries(left_info, right_info, path)

    # -- field comparison --------------------------------------------------------------------

    def _compare_key_sets(
        self, left: Mapping[str, Any], right: Mapping[str, Any], path: str
    ) -> None:
        for key in sorted(set(left) - set(right)):
            self._report(path, f"'{key}' present only on {self.left.label}")
        for key in sorted(set(right) - set(left)):
            self._report(path, f"'{key}' present only on {self.right.label}")

    def _compare_features(
        self, left: Mapping[str, Any], right: Mapping[str, Any], path: str
    ) -> None:
        message = _list_difference(
            "features",
            left.get("features", []),
            right.get("features", []),
            self.left.label,
            self.right.label,
        )
        if message:
            self._report(path, message)

    def _compare_scalar(
        self, key: str, left: Mapping[str, Any], right: Mapping[str, Any], path: str
    ) -> None:
        if key in left and key in right and left[key] != right[key]:
            self._report(
                path,
                f"{key} differs: {self.left.label} {_describe(left[key])}, "
                f"{self.right.label} {_describe(right[key])}",
            )

    def _compare_entries(self, left: SchemaInfo, right: SchemaInfo, path: str) -> None:
        if left.get("meta-type") != right.get("meta-type"):
            self._report(
                path,
                f"meta-type differs: {self.left.label} "
                f"{_describe(left.get('meta-type'))}, {self.right.label} "
                f"{_describe(right.get('meta-type'))}",
            )
            return
        self._compare_key_sets(left, right, path)
        self._compare_features(left, right, path)
        for key in sorted((set(left) & set(right)) - _STRUCTURAL_KEYS):
            self._compare_scalar(key, left, right, path)
        meta_type = left.get("meta-type")
        if meta_type == "builtin":
            self._compare_scalar("json-type", left, right, path)
        elif meta_type == "enum":
            self._compare_enum(left, right, path)
        elif meta_type == "array":
            for side, info in ((self.left, left), (self.right, right)):
                if info.get("name") != f"[{info.get('element-type')}]":
                    self._report(
                        path,
                        f"{side.label} array '{info.get('name')}' is not named "
                        f"after its element-type {info.get('element-type')!r}",
                    )
            self._link(left.get("element-type"), right.get("element-type"), f"{path} .element-type")
        elif meta_type == "object":
            self._compare_object(left, right, path)
        elif meta_type == "alternate":
            self._compare_alternate(left, right, path)
        elif meta_type == "command":
            self._compare_scalar("allow-oob", left, right, path)
            self._link(left.get("arg-type"), right.get("arg-type"), f"{path} arg-type")
            self._link(left.get("ret-type"), right.get("ret-type"), f"{path} ret-type")
        elif meta_type == "event":
            self._link(left.get("arg-type"), right.get("arg-type"), f"{path} arg-type")
        else:
            self._report(path, f"unknown meta-type {_describe(meta_type)}")

    def _named_items(self, items: Any, path: str, label: str, key: str) -> list[SchemaInfo]:
        if not isinstance(items, list) or not all(
            isinstance(item, Mapping) and isinstance(item.get(key), str) for item in items
        ):
            self._report(path, f"{label} has malformed list {items!r:.200}")
            return []
        return items

    def _paired_by_name(
        self, what: str, left_items: Any, right_items: Any, path: str, key: str = "name"
    ) -> list[tuple[int, SchemaInfo, SchemaInfo]]:
        """Report order/membership differences, then pair the common items by `key`."""
        lefts = self._named_items(left_items, f"{path} .{what}", self.left.label, key)
        rights = self._named_items(right_items, f"{path} .{what}", self.right.label, key)
        message = _list_difference(
            what,
            [i[key] for i in lefts],
            [i[key] for i in rights],
            self.left.label,
            self.right.label,
        )
        if message:
            self._report(path, message)
        right_by_key = {item[key]: item for item in rights}
        return [
            (index, item, right_by_key[item[key]])
            for index, item in enumerate(lefts)
            if item[key] in right_by_key
        ]

    def _compare_enum(self, left: SchemaInfo, right: SchemaInfo, path: str) -> None:
        message = _list_difference(
            "values",
            left.get("values", []),
            right.get("values", []),
            self.left.label,
            self.right.label,
        )
        if message:
            self._report(path, message)
        for index, left_member, right_member in self._paired_by_name(
            "members", left.get("members"), right.get("members"), path
        ):
            member_path = f"{path} .members[{index}] '{left_member['name']}'"
            self._compare_key_sets(left_member, right_member, member_path)
            self._compare_features(left_member, right_member, member_path)

    def _compare_object(self, left: SchemaInfo, right: SchemaInfo, path: str) -> None:
        for index, left_member, right_member in self._paired_by_name(
            "members", left.get("members"), right.get("members"), path
        ):
            member_path = f"{path} .members[{index}] '{left_member['name']}'"
            self._compare_key_sets(left_member, right_member, member_path)
            self._compare_features(left_member, right_member, member_path)
            self._compare_scalar("default", left_member, right_member, member_path)
            self._link(left_member.get("type"), right_member.get("type"), f"{member_path} .type")
        self._compare_scalar("tag", left, right, path)
        if "variants" in left and "variants" in right:
            for index, left_variant, right_variant in self._paired_by_name(
                "variants", left["variants"], right["variants"], path, key="case"
            ):
                variant_path = f"{path} .variants[{index}] '{left_variant['case']}'"
                self._compare_key_sets(left_variant, right_variant, variant_path)
                self._link(
                    left_variant.get("type"), right_variant.get("type"), f"{variant_path} .type"
                )

    def _compare_alternate(self, left: SchemaInfo, right: SchemaInfo, path: str) -> None:
        lefts = self._named_items(left.get("members"), f"{path} .members", self.left.label, "type")
        rights = self._named_items(
            right.get("members"), f"{path} .members", self.right.label, "type"
        )
        if len(lefts) != len(rights):
            self._report(
                path,
                f"alternate has {len(lefts)} members on {self.left.label}, "
                f"{len(rights)} on {self.right.label}",
            )
        for index, (left_member, right_member) in enumerate(zip(lefts, rights, strict=False)):
            member_path = f"{path} .members[{index}]"
            self._compare_key_sets(left_member, right_member, member_path)
            self._link(left_member["type"], right_member["type"], f"{member_path} .type")

    # -- the walk ----------------------------------------------------------------------------

    def _roots(self, side: _Side, meta_type: str) -> set[str]:
        return {name for name, info in side.entries.items() if info.get("meta-type") == meta_type}

    def run(self) -> list[str]:
        if len(self.left.entries) != len(self.right.entries):
            self._report(
                "schema",
                f"{len(self.left.entries)} entries on {self.left.label}, "
                f"{len(self.right.entries)} on {self.right.label}",
            )
        for meta_type in ("command", "event"):
            left_roots = self._roots(self.left, meta_type)
            right_roots = self._roots(self.right, meta_type)
            for name in sorted(left_roots - right_roots):
                self._report(f"{meta_type} {name}", f"missing on {self.right.label}")
            for name in sorted(right_roots - left_roots):
                self._report(f"{meta_type} {name}", f"missing on {self.left.label}")
            for name in sorted(left_roots & right_roots):
                # Each root is linked to itself by name so its subgraph is walked from here.
                self._link(name, name, f"{meta_type} {name}")
                self._drain()
        self._account_for_unreached()
        return self.differences

    def _try_link(self, left_name: str, right_name: str, path: str) -> bool:
        """Link two names and walk from them; keep the result only if nothing differs."""
        saved = (
            len(self.differences),
            dict(self.left.partner),
            dict(self.right.partner),
            dict(self.left.first_path),
            dict(self.right.first_path),
        )
        self._link(left_name, right_name, path)
        self._drain()
        if len(self.differences) == saved[0]:
            return True
        del self.differences[saved[0] :]
        (_, self.left.partner, self.right.partner, self.left.first_path, self.right.first_path) = (
            saved
        )
        return False

    def _account_for_unreached(self) -> None:
        """Match entries no command or event reaches, or report them.

        Builtins are paired by name.  QEMU also lists types whose only use sits under a
        condition that is false (DisplayCocoa, used only by a CONFIG_COCOA variant): its
        generator marks them used before the C preprocessor drops the use.  Such leftovers
        are paired with a structurally identical leftover of the other side, if any.
        """
        left_unreached = set(self.left.entries) - set(self.left.partner)
        right_unreached = set(self.right.entries) - set(self.right.partner)
        for name in sorted(left_unreached & right_unreached):
            if (
                self.left.entries[name].get("meta-type") == "builtin"
                and self.right.entries[name].get("meta-type") == "builtin"
            ):
                self._link(name, name, f"builtin {name}")
        self._drain()
        for left_name in sorted(set(self.left.entries) - set(self.left.partner)):
            if left_name in self.left.partner:
                continue  # paired while walking from an earlier leftover
            left_meta_type = self.left.entries[left_name].get("meta-type")
            if left_meta_type in ("command", "event"):
                continue
            for right_name in sorted(set(self.right.entries) - set(self.right.partner)):
                if self.right.entries[right_name].get(
                    "meta-type"
                ) == left_meta_type and self._try_link(
                    left_name, right_name, f"unreached {left_meta_type} '{left_name}'"
                ):
                    break
        for side in (self.left, self.right):
            unmatched_roots = [
                name
                for name in set(side.entries) - set(side.partner)
                if side.entries[name].get("meta-type") in ("command", "event")
            ]
            # A command or event missing on the other side was reported already; so are
            # the types only it uses.
            explained = _reachable(side.entries, unmatched_roots)
            for name in sorted(set(side.entries) - set(side.partner) - explained):
                meta_type = side.entries[name].get("meta-type")
                self._report(
                    f"{side.label} entry '{name}'",
                    f"{meta_type} is not reached from any command or event, "
                    f"and no unreached {meta_type} of the other side matches it",
                )


def _referenced_names(info: SchemaInfo) -> list[str]:
    names: list[Any] = [info.get("arg-type"), info.get("ret-type"), info.get("element-type")]
    if info.get("meta-type") in ("object", "alternate"):
        names += [m.get("type") for m in info.get("members", []) if isinstance(m, Mapping)]
    names += [v.get("type") for v in info.get("variants", []) if isinstance(v, Mapping)]
    return [name for name in names if isinstance(name, str)]


def _reachable(entries: Mapping[str, SchemaInfo], roots: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen or name not in entries:
            continue
        seen.add(name)
        stack.extend(_referenced_names(entries[name]))
    return seen


def compare_schema_infos(
    left: Sequence[SchemaInfo],
    right: Sequence[SchemaInfo],
    left_label: str = "left",
    right_label: str = "right",
) -> list[str]:
    """Every observable difference between two query-qmp-schema results; empty when alike."""
    return SchemaGraphComparison(left, right, left_label, right_label).run()


def rename_types(infos: Sequence[SchemaInfo], rename: Mapping[str, str]) -> list[dict[str, Any]]:
    """A deep copy of infos with type names renamed (array names follow their element).

    Used to check that the comparison ignores masking: a renamed copy must compare equal.
    """

    def new_name(name: Any) -> Any:
        if not isinstance(name, str):
            return name
        if is_array_name(name):
            return f"[{new_name(name[1:-1])}]"
        return rename.get(name, name)

    renamed: list[dict[str, Any]] = []
    for info in infos:
        copy: dict[str, Any] = dict(info)
        copy["name"] = new_name(info.get("name"))
        for key in ("arg-type", "ret-type", "element-type"):
            if key in copy:
                copy[key] = new_name(copy[key])
        if info.get("meta-type") in ("object", "alternate") and "members" in info:
            copy["members"] = [
                dict(m, type=new_name(m.get("type"))) if "type" in m else dict(m)
                for m in info["members"]
            ]
        if "variants" in info:
            copy["variants"] = [dict(v, type=new_name(v.get("type"))) for v in info["variants"]]
        renamed.append(copy)
    return renamed
