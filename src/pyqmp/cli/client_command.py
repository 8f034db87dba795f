"""``pyqmp client``: one QMP command (or one event) from a script's command line.

Prints the command's ``return`` value as one line of JSON and exits 0; an error reply goes
to stderr as ``CLASS: desc`` with exit status 1.  Every wait is bounded by ``--timeout``
(connecting included): running out of it exits 3 saying what was being waited for, and a
connection that fails or is lost exits 4.  ``--wait-event NAME`` prints the next event
``NAME`` instead (after running COMMAND, if one is given, so that ``cont --wait-event RESUME``
sees the event the command causes).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

EXIT_ERROR_REPLY = 1
EXIT_TIMEOUT = 3
EXIT_CONNECTION = 4
DEFAULT_TIMEOUT = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address", metavar="ADDRESS", help="unix:PATH, tcp:HOST:PORT or a socket path"
    )
    parser.add_argument("command", metavar="COMMAND", nargs="?", help="the command to run")
    parser.add_argument(
        "arguments",
        metavar="JSON-ARGS",
        nargs="?",
        help="the command's arguments, as one JSON object",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for anything: connecting, the reply, the event "
        f"(default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--wait-event",
        metavar="NAME",
        help="print the next event NAME (after COMMAND, if given) instead of a reply",
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text}")
    return value


def _fail(message: str, status: int) -> int:
    print(f"pyqmp client: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    """Run the command line in ``args`` and return the exit status."""
    import orjson

    from pyqmp.client import AddressError, parse_address

    if args.command is None and args.wait_event is None:
        return _fail("give a COMMAND, or --wait-event NAME", 2)
    arguments: Any = None
    if args.arguments is not None:
        try:
            arguments = orjson.loads(args.arguments)
        except orjson.JSONDecodeError as error:
            return _fail(f"JSON-ARGS is not JSON: {error}", 2)
        if not isinstance(arguments, dict):
            return _fail("JSON-ARGS must be a JSON object, e.g. '{\"value\": 1073741824}'", 2)
    try:
        address = parse_address(args.address)
    except AddressError as error:
        return _fail(str(error), 2)
    return asyncio.run(_run(address, args.command, arguments, args.wait_event, args.timeout))


async def _run(
    address: Any, command: str | None, arguments: Any, wait_event: str | None, timeout: float
) -> int:
    import orjson

    from pyqmp.client import CommandTimeout, ConnectError, ConnectionLost, ExecuteError, QMPClient

    async with QMPClient("pyqmp-client") as qmp:
        try:
            await qmp.connect(address, timeout=timeout)
            stream = qmp.events(wait_event) if wait_event is not None else None
            if command is not None:
                result = await qmp.execute(command, arguments, timeout=timeout)
                if stream is None:
                    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
                    return 0
            assert stream is not None
            try:
                event = await stream.get(timeout=timeout)
            except TimeoutError:
                return _fail(f"no event {wait_event} within {timeout:g} s", EXIT_TIMEOUT)
        except ExecuteError as error:
            print(f"{error.error_class}: {error.desc}", file=sys.stderr)
            return EXIT_ERROR_REPLY
        except CommandTimeout as error:
            return _fail(str(error), EXIT_TIMEOUT)
        except ConnectError as error:
            timed_out = isinstance(error.__cause__, TimeoutError)
            return _fail(str(error), EXIT_TIMEOUT if timed_out else EXIT_CONNECTION)
        except ConnectionLost as error:
            return _fail(str(error), EXIT_CONNECTION)
    message: dict[str, Any] = {"event": event.name, "data": event.data}
    if event.timestamp is not None:
        seconds, microseconds = event.timestamp
        message["timestamp"] = {"seconds": seconds, "microseconds": microseconds}
    sys.stdout.buffer.write(orjson.dumps(message) + b"\n")
    return 0
