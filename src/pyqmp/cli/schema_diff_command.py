"""The ``pyqmp schema diff OLD NEW`` command (:mod:`pyqmp.schema.diff`).

Exit status: 0 when nothing breaks a client, 1 when something does, 2 for a usage error,
3 when a schema cannot be read or is invalid (its compiler error is printed, as ``schema
check`` prints it).
"""

from __future__ import annotations

import argparse
import sys

EXIT_BREAKS = 1
EXIT_BAD_SCHEMA = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD", help="the old schema's top-level file")
    parser.add_argument("new", metavar="NEW", help="the new schema's top-level file")
    parser.add_argument(
        "-D",
        "--define",
        metavar="NAME",
        action="append",
        default=None,
        help="compare the build with NAME defined (repeatable): what its 'if' conditions rule "
        "out is gone from both sides. Without it, conditions are compared as written",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the changes as one JSON object, for tools"
    )


def run(args: argparse.Namespace) -> int:
    from pyqmp.schema import SchemaError, load_schema

    schemas = []
    for path in (args.old, args.new):
        try:
            schemas.append(load_schema(path))
        except SchemaError as err:
            print(str(err), file=sys.stderr)
            return EXIT_BAD_SCHEMA

    from pyqmp.schema.diff import diff_schemas
    from pyqmp.schema.diff.report import human_report, json_report

    old, new = schemas
    if args.define is not None:
        from pyqmp.schema.diff.conditions import for_build

        defines = frozenset(args.define)
        old, new = for_build(old, defines), for_build(new, defines)
    changes = diff_schemas(old, new)
    if args.json:
        import orjson

        report = json_report(changes, args.old, args.new)
        sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(human_report(changes, args.old, args.new))
    return EXIT_BREAKS if any(change.breaks for change in changes) else 0
