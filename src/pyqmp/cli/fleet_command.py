"""The ``pyqmp fleet`` command: every agent's VMs, from anywhere that reaches NATS."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when run: listing the commands must stay cheap
    from nats.aio.client import Client

    from pyqmp.agent.fleet import EventFilter

EXIT_ERROR = 1
EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats", metavar="URL", required=True, help="the NATS the agents use: nats://HOST[:PORT]"
    )
    commands = parser.add_subparsers(dest="fleet_command", metavar="SUBCOMMAND", required=True)
    ls = commands.add_parser(
        "ls",
        help="list every agent's VMs",
        description="List the VMs of every agent that answers (or of one host).",
    )
    ls.add_argument("--host", metavar="H", help="ask only host H")
    ls.add_argument("--json", action="store_true", help="one JSON object per host")
    ls.add_argument(
        "--wait",
        metavar="S",
        default="1",
        help="how long to collect the agents' answers (default 1 s)",
    )
    execute = commands.add_parser(
        "exec",
        help="run a QMP command on a VM",
        description="Run a QMP command on a VM and print its return value as JSON; an error "
        "reply is printed to standard error and exits 1.",
    )
    execute.add_argument("vm", metavar="VM", help="the VM: HOST/VM, or VM if only one host has it")
    execute.add_argument("command", metavar="COMMAND", help="the QMP command, e.g. query-status")
    execute.add_argument(
        "arguments", metavar="JSON", nargs="?", help="the command's arguments, a JSON object"
    )
    execute.add_argument(
        "--timeout",
        metavar="S",
        default="5",
        help="how long the agent waits for the VM (default 5 s)",
    )
    events = commands.add_parser(
        "events",
        help="print events as they happen",
        description="Print events as they happen, one JSON object per line.  PATTERN is "
        "VM, HOST/VM or HOST/VM/EVENT, each part a shell-style pattern (default: all).",
    )
    events.add_argument("pattern", metavar="PATTERN", nargs="?", default="*/*/*")
    events.add_argument(
        "--count", metavar="N", type=int, help="exit after N events (default: run until ^C)"
    )


def run(args: argparse.Namespace) -> int:
    from pyqmp import event_loop
    from pyqmp.agent.errors import AgentError

    try:
        return event_loop.run(_run(args))
    except AgentError as error:
        print(f"pyqmp fleet: {error}", file=sys.stderr)
        return EXIT_ERROR if not isinstance(error, ValueError) else EXIT_USAGE
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace) -> int:
    from pyqmp.agent import fleet
    from pyqmp.agent.options import parse_nats_servers, parse_seconds

    servers = parse_nats_servers(args.nats)
    command = args.fleet_command
    arguments = None
    timeout = wait = 0.0
    selection = fleet.EventFilter()
    if command == "exec":
        timeout = parse_seconds(args.timeout, "--timeout", 0.01, 300)
        arguments = _json_object(args.arguments)
    elif command == "ls":
        wait = parse_seconds(args.wait, "--wait", 0.01, 60)
    else:
        selection = _event_filter(args.pattern)
        if args.count is not None and args.count < 1:
            print("pyqmp fleet: --count must be at least 1", file=sys.stderr)
            return EXIT_USAGE
    client = await fleet.connect(servers, timeout=5)
    try:
        if command == "ls":
            return await _ls(client, args, wait)
        if command == "exec":
            return await _exec(client, args.vm, args.command, arguments, timeout)
        return await _events(client, selection, args.count)
    finally:
        await client.close()


def _json_object(text: str | None) -> dict[str, Any] | None:
    import json

    from pyqmp.agent.errors import AgentOptionError

    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise AgentOptionError(f"invalid arguments {text!r}: {error}") from None
    if not isinstance(value, dict):
        raise AgentOptionError(f"invalid arguments {text!r}: expected a JSON object")
    return value


def _event_filter(pattern: str) -> EventFilter:
    from pyqmp.agent.errors import AgentOptionError
    from pyqmp.agent.fleet import EventFilter

    parts = pattern.split("/")
    if len(parts) > 3 or not all(parts):
        raise AgentOptionError(
            f"invalid pattern {pattern!r}: expected VM, HOST/VM or HOST/VM/EVENT"
        )
    if len(parts) == 1:
        return EventFilter(vm=parts[0])
    if len(parts) == 2:
        return EventFilter(host=parts[0], vm=parts[1])
    return EventFilter(*parts)


async def _ls(client: Client, args: argparse.Namespace, wait: float) -> int:
    import msgspec

    from pyqmp.agent import fleet

    hosts = await fleet.list_hosts(client, args.host, gather=wait)
    if args.json:
        for listed in hosts:
            print(msgspec.json.encode(listed).decode())
        return 0
    rows = [("HOST", "VM", "MONITOR", "STATUS")]
    for listed in hosts:
        for summary in sorted(listed.vms, key=lambda summary: summary.vm):
            rows.append((listed.host, summary.vm, summary.monitor, summary.status or "-"))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[3]
        )
    truncated = [listed.host for listed in hosts if listed.truncated]
    if truncated:
        print(
            f"pyqmp fleet: the lists of {', '.join(truncated)} were cut to fit NATS's message size",
            file=sys.stderr,
        )
    return 0


async def _exec(
    client: Client, target: str, command: str, arguments: dict[str, Any] | None, timeout: float
) -> int:
    import json

    from pyqmp.agent import fleet

    host, slash, vm = target.partition("/")
    if not slash:
        host, vm = await fleet.find_vm(client, target), target
    reply = await fleet.execute(client, host, vm, command, arguments, timeout)
    if "error" in reply:
        error = reply["error"]
        if isinstance(error, dict):
            print(f"{error.get('class')}: {error.get('desc')}", file=sys.stderr)
        else:
            print(f"error: {error!r}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(reply["return"], indent=2))
    return 0


async def _events(client: Client, selection: EventFilter, count: int | None) -> int:
    import contextlib

    import msgspec

    from pyqmp.agent import fleet

    seen = 0
    async with contextlib.aclosing(fleet.events(client, selection)) as stream:
        async for event in stream:
            sys.stdout.write(msgspec.json.encode(event).decode() + "\n")
            sys.stdout.flush()
            seen += 1
            if count is not None and seen >= count:
                break
    return 0
