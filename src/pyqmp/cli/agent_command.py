"""The ``pyqmp agent`` command: options to a running fleet agent (:mod:`pyqmp.agent`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Coroutine
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--watch",
        metavar="DIR",
        help="watch every unix socket in DIR as a VM named after the file's stem; sockets "
        "that appear or vanish are picked up and dropped while the agent runs",
    )
    parser.add_argument(
        "--qmp",
        metavar="NAME=ADDRESS",
        action="append",
        default=[],
        help="watch one monitor: NAME=unix:PATH, NAME=tcp:HOST:PORT or NAME=PATH (repeatable)",
    )
    parser.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve Prometheus metrics on http://HOST:PORT/metrics (port 0: a free one, "
        "printed at start)",
    )
    parser.add_argument(
        "--nats",
        metavar="URL",
        help="publish events and answer commands on NATS: nats://HOST[:PORT] (several, "
        "comma-separated, for one cluster)",
    )
    parser.add_argument(
        "--host-name",
        metavar="H",
        help="this host's name in NATS subjects and in 'fleet ls' (default: the host name)",
    )
    parser.add_argument(
        "--interval",
        metavar="S",
        default="5",
        help="seconds between two polls of a VM (default 5)",
    )
    parser.add_argument(
        "--deadline",
        metavar="S",
        default="2",
        help="a monitor that has not answered a poll within S seconds is down (qemu_up 0; "
        "default 2)",
    )
    parser.add_argument(
        "--command-timeout",
        metavar="S",
        default="5",
        help="how long a command from NATS waits for its VM when the request says nothing "
        "(default 5)",
    )
    parser.add_argument(
        "--stats-interval",
        metavar="S",
        default="10",
        help="guest-stats-polling-interval the agent sets on a QEMU balloon whose polling "
        "is off (whole seconds; default 10)",
    )
    parser.add_argument(
        "--log-level",
        metavar="LEVEL",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="what the agent logs to standard error: debug, info (default), warning, error",
    )


def run(args: argparse.Namespace) -> int:
    import socket

    from pyqmp import event_loop
    from pyqmp.agent.agent import AgentSettings
    from pyqmp.agent.errors import AgentOptionError
    from pyqmp.agent.monitor import MonitorSettings
    from pyqmp.agent.options import (
        check_name,
        parse_listen_address,
        parse_monitor_spec,
        parse_nats_servers,
        parse_seconds,
    )
    from pyqmp.agent.runner import AgentConfig, serve

    try:
        monitors = [parse_monitor_spec(text) for text in args.qmp]
        names = [spec.name for spec in monitors]
        if len(set(names)) != len(names):
            raise AgentOptionError("--qmp names a VM twice: each NAME once")
        if args.watch is None and not monitors:
            raise AgentOptionError("nothing to watch: give --watch DIR or --qmp NAME=ADDRESS")
        if args.watch is not None and not os.path.isdir(args.watch):
            raise AgentOptionError(f"--watch {args.watch!r}: not a directory")
        if args.metrics is None and args.nats is None:
            raise AgentOptionError(
                "nowhere to report: give --metrics HOST:PORT, --nats URL or both"
            )
        metrics = parse_listen_address(args.metrics) if args.metrics is not None else None
        nats = parse_nats_servers(args.nats) if args.nats is not None else None
        host = check_name(
            socket.gethostname() if args.host_name is None else args.host_name, "host name"
        )
        interval = parse_seconds(args.interval, "--interval", 0.05)
        deadline = parse_seconds(args.deadline, "--deadline", 0.01, 600)
        command_timeout = parse_seconds(args.command_timeout, "--command-timeout", 0.01, 300)
        stats_interval = parse_seconds(args.stats_interval, "--stats-interval", 1)
        if stats_interval != int(stats_interval):
            raise AgentOptionError(
                f"invalid --stats-interval {args.stats_interval!r}: QEMU takes whole seconds"
            )
    except AgentOptionError as error:
        print(f"pyqmp agent: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="pyqmp agent: %(message)s", stream=sys.stderr
    )
    settings = AgentSettings(
        host=host,
        monitor=MonitorSettings(
            interval=interval, deadline=deadline, polling_interval=int(stats_interval)
        ),
        command_timeout=command_timeout,
    )
    config = AgentConfig(settings, monitors, args.watch, metrics, nats)
    try:
        event_loop.run(_serve_until_signalled(serve(config, _announce)))
    except OSError as error:  # the metrics port is taken, say
        print(f"pyqmp agent: {error}", file=sys.stderr)
        return 1
    return 0


def _announce(line: str) -> None:
    print(line, flush=True)


async def _serve_until_signalled(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` until SIGINT or SIGTERM, then let it clean up."""
    import asyncio
    import signal

    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
