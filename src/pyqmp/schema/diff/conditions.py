"""A schema as one build of it has it: what the ``if`` conditions rule out is gone.

``schema diff --define NAME`` compares two schemas for one configuration: a command made
conditional on a symbol that the build lacks is then a command removed. Types stay (a type
nobody reaches is never walked); what goes is every command, event, member, enum value and
branch whose condition does not hold with ``defines`` true and every other symbol false.
"""

from __future__ import annotations

from .. import model
from ..model import Schema, condition_holds


def for_build(schema: Schema, defines: frozenset[str]) -> Schema:
    def holds(item: model.Command | model.Event | model.ObjectMember) -> bool:
        return condition_holds(item.ifcond, defines)

    types: dict[str, model.SchemaType] = {}
    for name, typ in schema.types.items():
        if isinstance(typ, model.ObjectType):
            variants = typ.variants
            if variants is not None:
                variants = tuple(v for v in variants if condition_holds(v.ifcond, defines))
            typ = typ._replace(
                members=tuple(m for m in typ.members if holds(m)),
                local_members=tuple(m for m in typ.local_members if holds(m)),
                variants=variants,
            )
        elif isinstance(typ, model.EnumType):
            typ = typ._replace(
                members=tuple(m for m in typ.members if condition_holds(m.ifcond, defines))
            )
        elif isinstance(typ, model.AlternateType):
            typ = typ._replace(
                variants=tuple(v for v in typ.variants if condition_holds(v.ifcond, defines))
            )
        types[name] = typ
    return schema._replace(
        types=types,
        commands={name: c for name, c in schema.commands.items() if holds(c)},
        events={name: e for name, e in schema.events.items() if holds(e)},
    )
