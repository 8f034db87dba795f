"""A small QOM-like object tree: paths, typed properties, children.

The reference machine exposes its devices the way QEMU does, so that ``qom-list``,
``qom-get`` and ``qom-set`` work with the same paths (``/machine/peripheral/balloon0``)
and property names (``guest-stats-polling-interval``).  Errors carry QEMU's classes
and messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..server.errors import DEVICE_NOT_FOUND, CommandError

Getter = Callable[[], Any]
Setter = Callable[[Any], None]


class Property:
    """A named, typed value of an object, read and written through functions."""

    __slots__ = ("description", "getter", "name", "owner", "setter", "type")

    def __init__(
        self,
        name: str,
        type_name: str,
        getter: Getter | None,
        setter: Setter | None = None,
        description: str | None = None,
        owner: str | None = None,
    ) -> None:
        self.name = name
        self.type = type_name
        self.getter = getter
        self.setter = setter
        self.description = description
        # the type named in errors, where the property is an alias of another object's
        self.owner = owner


class QomObject:
    """An object of the tree: a type, properties and named children."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self.properties: dict[str, Property] = {}
        self.children: dict[str, QomObject] = {}
        self.add_property(Property("type", "string", lambda: self.type_name))

    def add_property(self, prop: Property) -> None:
        self.properties[prop.name] = prop

    def add_child(self, name: str, child: QomObject) -> QomObject:
        self.children[name] = child
        self.add_property(Property(name, f"child<{child.type_name}>", lambda: None))
        return child


class ObjectTree:
    """The tree rooted at ``/``; resolves absolute paths."""

    def __init__(self) -> None:
        self.root = QomObject("container")

    def resolve(self, path: str) -> QomObject:
        """The object at ``path``, absolute or partial (a unique trailing part, as QEMU
        resolves ``balloon0``); DeviceNotFound or ambiguity as QEMU answers them."""
        if path.startswith("/"):
            node: QomObject | None = self.root
            for part in path.split("/"):
                if part and node is not None:
                    node = node.children.get(part)
            if node is None:
                raise _device_not_found(path)
            return node
        parts = [part for part in path.split("/") if part]
        parents = self._parents()
        matches = [
            obj for obj in self._walk(self.root) if parts and _ends_with(obj, parts, parents)
        ]
        if len(matches) > 1:
            raise CommandError(f"Path '{path}' is ambiguous")
        if not matches:
            raise _device_not_found(path)
        return matches[0]

    def _walk(self, node: QomObject) -> list[QomObject]:
        found = [node]
        for child in node.children.values():
            found.extend(self._walk(child))
        return found

    def _parents(self) -> dict[int, QomObject]:
        parents: dict[int, QomObject] = {}
        for node in self._walk(self.root):
            for child in node.children.values():
                parents[id(child)] = node
        return parents

    def canonical_path(self, obj: QomObject) -> str:
        """The object's absolute path, as QEMU's object_get_canonical_path."""
        parents = self._parents()
        parts: list[str] = []
        node = obj
        while (parent := parents.get(id(node))) is not None:
            parts.append(next(name for name, child in parent.children.items() if child is node))
            node = parent
        return "/" + "/".join(reversed(parts))

    def _property(self, path: str, name: str) -> tuple[QomObject, Property]:
        obj = self.resolve(path)
        prop = obj.properties.get(name)
        if prop is None:
            raise CommandError(f"Property '{obj.type_name}.{name}' not found")
        return obj, prop

    def get(self, path: str, name: str) -> Any:
        obj, prop = self._property(path, name)
        if name in obj.children:
            return self.canonical_path(obj.children[name])
        if prop.getter is None:
            raise CommandError(f"Property '{prop.owner or obj.type_name}.{name}' is not readable")
        return prop.getter()

    def set(self, path: str, name: str, value: Any) -> None:
        obj, prop = self._property(path, name)
        if prop.setter is None:
            raise CommandError(f"Property '{prop.owner or obj.type_name}.{name}' is not writable")
        prop.setter(value)


def _device_not_found(path: str) -> CommandError:
    return CommandError(f"Device '{path}' not found", DEVICE_NOT_FOUND)


def _ends_with(obj: QomObject, parts: list[str], parents: dict[int, QomObject]) -> bool:
    """Whether the path of ``obj`` ends with ``parts``."""
    node: QomObject | None = obj
    for part in reversed(parts):
        parent = parents.get(id(node))
        if parent is None or parent.children.get(part) is not node:
            return False
        node = parent
    return True
