"""Argument parsing and dispatch for the ``pyqmp`` command line (README.md, "Command line").

This module only parses arguments and hands off to the module that implements the chosen command,
importing it at that moment. It must stay cheap to import — argparse and nothing heavy — because
the start-up time of ``pyqmp schema check`` is benchmarked against QEMU's schema front end.
"""

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from pyqmp import __version__

Handler = Callable[[argparse.Namespace], int]


def _schema_check(args: argparse.Namespace) -> int:
    from pyqmp.cli.schema_commands import run_check

    return run_check(args.file)


def _schema_introspect(args: argparse.Namespace) -> int:
    from pyqmp.cli.schema_commands import run_introspect

    return run_introspect(args.file, list(args.define), bool(args.unmask), list(args.compat))


def _schema_gen(args: argparse.Namespace) -> int:
    from pyqmp.cli.schema_commands import run_gen_python

    if (args.file is None) == (args.from_address is None):
        print("pyqmp schema gen: give FILE or --from ADDRESS (one of them)", file=sys.stderr)
        return 2
    if args.from_address is not None:
        from pyqmp.cli.schema_commands import run_gen_python_from

        return run_gen_python_from(args.from_address, args.output_dir, args.package)
    return run_gen_python(args.file, args.output_dir, args.package)


def _schema_doc(args: argparse.Namespace) -> int:
    from pyqmp.cli.schema_commands import run_doc

    return run_doc(args.file, args.output, args.format, args.title)


def _guest(args: argparse.Namespace) -> int:
    from pyqmp.guest.main import main as guest_main

    # the guest parses its own options (argparse leaves them as unknown here)
    return guest_main([*args.unknown, *args.rest])


class _CommandModule(Protocol):
    """A command's module: its options, and what runs it (an exit status)."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _add_command(
    subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]",
    module: _CommandModule,
    name: str,
    summary: str,
    description: str,
) -> None:
    parser = subparsers.add_parser(
        name, help=summary, description=description, formatter_class=_HelpFormatter
    )
    module.add_arguments(parser)
    parser.set_defaults(handler=module.run)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for the whole ``pyqmp`` command line."""
    parser = argparse.ArgumentParser(
        prog="pyqmp",
        description="QMP and the QAPI schema language, schema-first.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pyqmp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    machine = commands.add_parser(
        "machine",
        help="run the reference machine with QMP monitors",
        description="Run the reference machine: a virtio-balloon device and QMP monitors.",
        formatter_class=_HelpFormatter,
    )
    from pyqmp.cli import machine_command

    machine_command.add_arguments(machine)
    machine.set_defaults(handler=machine_command.run)
    from pyqmp.cli import shell_command

    _add_command(
        commands,
        shell_command,
        "shell",
        "interactive monitor: qmp-shell's command lines, completion, events as they come",
        "An interactive QMP shell: 'command key=value ...' or a JSON request per line, TAB "
        "completion from the server's introspection, replies pretty-printed, errors as "
        "CLASS: desc, events printed as they arrive; -H for the human monitor. Reads and "
        "runs lines from stdin when it is not a terminal.",
    )
    client = commands.add_parser(
        "client",
        help="run one QMP command (or wait for one event) and print the result as JSON",
        description="Connect, run COMMAND, print its return value as JSON (exit 0); an error "
        "reply goes to stderr as CLASS: desc (exit 1), a timeout exits 3, a connection "
        "failure 4.",
        formatter_class=_HelpFormatter,
    )
    from pyqmp.cli import client_command

    client_command.add_arguments(client)
    client.set_defaults(handler=client_command.run)
    from pyqmp.cli import agent_command, fleet_command, sim_fleet_command

    _add_command(
        commands,
        agent_command,
        "agent",
        "watch every VM of this host: Prometheus metrics, events and commands on NATS",
        "One agent per host: watches QMP monitors (QEMU or pyqmp machine), serves Prometheus "
        "metrics from what it knows (a scrape never waits on a VM) and bridges events and "
        "commands to NATS.",
    )
    _add_command(
        commands,
        fleet_command,
        "fleet",
        "list, command and follow the VMs of every agent on NATS",
        "The fleet from any machine that reaches NATS: ls, exec, events.",
    )
    _add_command(
        commands,
        sim_fleet_command,
        "sim-fleet",
        "test tool: many simulated machines in one process",
        "A test and benchmark tool: N reference machines in one process, each with a QMP "
        "monitor on DIR/PREFIXi.qmp and a simulated guest.",
    )
    guest = commands.add_parser(
        "guest",
        help="the guest process the machine starts (not for direct use)",
        description="The reference machine's guest: RAM, a balloon driver and a workload, "
        "on the channel the machine passes as --fd.",
        formatter_class=_HelpFormatter,
        add_help=False,
    )
    guest.add_argument("rest", nargs=argparse.REMAINDER)
    guest.set_defaults(handler=_guest, accepts_any_arguments=True)

    schema_parser = commands.add_parser(
        "schema",
        help="check, introspect, generate from, document and compare QAPI schemas",
        description="Work with QAPI schema files.",
        formatter_class=_HelpFormatter,
    )
    schema_commands = schema_parser.add_subparsers(
        dest="schema_command", metavar="SUBCOMMAND", required=True
    )

    check = schema_commands.add_parser(
        "check",
        help="check a schema; exit 1 with FILE:LINE: message on the first error",
        description="Read and check a QAPI schema. On the first error print FILE:LINE: message "
        "and exit 1.",
        formatter_class=_HelpFormatter,
    )
    check.add_argument("file", metavar="FILE", help="the schema's top-level file")
    check.set_defaults(handler=_schema_check)

    introspect = schema_commands.add_parser(
        "introspect",
        help="print query-qmp-schema's answer for a schema, as JSON",
        description="Print what query-qmp-schema would return for the schema, as a JSON array.",
        formatter_class=_HelpFormatter,
    )
    introspect.add_argument("file", metavar="FILE", help="the schema's top-level file")
    introspect.add_argument(
        "--define",
        metavar="NAME",
        action="append",
        default=[],
        help="treat configuration symbol NAME as defined when evaluating 'if' conditions "
        "(repeatable)",
    )
    introspect.add_argument(
        "--unmask",
        action="store_true",
        help="use the schema's real type names instead of the masked numeric ones",
    )
    introspect.add_argument(
        "--compat",
        metavar="POLICY",
        action="append",
        default=[],
        help="answer as QEMU does under -compat POLICY (its syntax; with "
        "deprecated-output=hide, deprecated entities, members and enum 'values' are hidden)",
    )
    introspect.set_defaults(handler=_schema_introspect)

    gen = schema_commands.add_parser(
        "gen",
        help="generate code from a schema",
        description="Generate code from a QAPI schema.",
        formatter_class=_HelpFormatter,
    )
    gen.add_argument("language", choices=["python"], help="what to generate")
    gen.add_argument("file", metavar="FILE", nargs="?", help="the schema's top-level file")
    gen.add_argument(
        "--from",
        dest="from_address",
        metavar="ADDRESS",
        help="generate from a running server's query-qmp-schema instead of a FILE",
    )
    gen.add_argument(
        "-o",
        "--output-dir",
        metavar="DIR",
        required=True,
        help="where to write the module (named after the schema: FILE's stem + _qapi.py)",
    )
    gen.add_argument(
        "--package",
        metavar="NAME",
        help="write an importable, typed package DIR/NAME instead of one module",
    )
    gen.set_defaults(handler=_schema_gen)
    doc = schema_commands.add_parser(
        "doc",
        help="write a schema's reference manual (HTML with offline search, or Markdown)",
        description="Write the reference manual of a schema from its doc comments: every "
        "command, event and type with its members, features, conditions and examples, "
        "cross-linked. HTML is a directory (index.html, one page per module, an offline "
        "search); Markdown is one file, OUT/index.md.",
        formatter_class=_HelpFormatter,
    )
    doc.add_argument("file", metavar="FILE", help="the schema's top-level file")
    doc.add_argument(
        "-o", "--output", metavar="OUT", required=True, help="the directory to write into"
    )
    doc.add_argument("--format", choices=("html", "markdown"), default="html", help="default: html")
    doc.add_argument("--title", help="the manual's title (default: FILE's name + reference)")
    doc.set_defaults(handler=_schema_doc)
    from pyqmp.cli import schema_diff_command

    _add_command(
        schema_commands,
        schema_diff_command,
        "diff",
        "compatibility verdict: who each change breaks; exit 1 where clients would break",
        "Compare two versions of a schema by QEMU's compatibility rules: each change, where it "
        "is on both sides, and whether it breaks clients that send, that receive, both or "
        "neither. Exit 0 when nothing breaks, 1 when something does, 2 for a usage error, 3 "
        "when a schema is invalid or cannot be read.",
    )
    return parser


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, minus its import of shutil for the terminal width.

    argparse builds a formatter for every add_argument call, and the stock one imports shutil
    (and with it zlib, bz2 and lzma) to size the terminal: measurable in a start-up that is
    benchmarked. The width is found the same way with os alone: $COLUMNS, then the terminal.
    """

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    stdout = sys.__stdout__
    if columns <= 0 and stdout is not None:
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns
        except (OSError, ValueError):
            columns = 0  # not a terminal, or stdout closed
    return columns if columns > 0 else 80


def _silence_stdout() -> None:
    # The reader went away (e.g. `| head`); point stdout at /dev/null so that the interpreter's
    # final flush cannot raise BrokenPipeError again and print a traceback.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pyqmp`` command line and return its exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "accepts_any_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.unknown = unknown
    handler: Handler = args.handler
    try:
        status = handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        return 130
    return status
