"""What the agent asks depends on what the server's introspection offers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pyqmp.agent.discovery import BALLOON_STATS, GUEST_STATS, command_names, discover
from pyqmp.client import ExecuteError


class Server:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, Mapping[str, object] | None]] = []

    async def call(self, name: str, arguments: Mapping[str, object] | None) -> Any:
        self.asked.append((name, arguments))
        key = name if arguments is None else f"{name} {arguments.get('path')}"
        answer = self.answers.get(key, self.answers.get(name))
        if isinstance(answer, ExecuteError):
            raise answer
        return answer


def schema(*commands: str) -> list[dict[str, str]]:
    return [{"name": name, "meta-type": "command"} for name in commands] + [
        {"name": "STOP", "meta-type": "event"}
    ]


def test_pyqmp_machine_uses_query_balloon_stats() -> None:
    server = Server(
        {"query-qmp-schema": schema("query-status", "query-balloon-stats", "unrelated-command")}
    )
    found = asyncio.run(discover(server.call, 10))
    assert found.stats_source == BALLOON_STATS
    assert found.commands == {"query-status", "query-balloon-stats"}
    assert [name for name, _ in server.asked] == ["query-qmp-schema"]


def test_qemu_gets_guest_stats_polling_switched_on() -> None:
    not_found = ExecuteError("qom-list", "DeviceNotFound", "no such path")
    server = Server(
        {
            "query-qmp-schema": schema(
                "query-status", "query-balloon", "qom-list", "qom-get", "qom-set"
            ),
            "qom-list /machine/peripheral": not_found,
            "qom-list /machine/peripheral-anon": [
                {"name": "type", "type": "string"},
                {"name": "device[0]", "type": "child<virtio-balloon-pci>"},
            ],
            "qom-get": 0,
            "qom-set": {},
        }
    )
    found = asyncio.run(discover(server.call, 7))
    assert (found.stats_source, found.balloon_path, found.polling_enabled) == (
        GUEST_STATS,
        "/machine/peripheral-anon/device[0]",
        True,
    )
    assert server.asked[-1] == (
        "qom-set",
        {
            "path": "/machine/peripheral-anon/device[0]",
            "property": "guest-stats-polling-interval",
            "value": 7,
        },
    )


def test_someone_elses_polling_interval_is_left_alone() -> None:
    server = Server(
        {
            "query-qmp-schema": schema("query-balloon", "qom-list", "qom-get", "qom-set"),
            "qom-list": [{"name": "balloon0", "type": "child<virtio-balloon-pci>"}],
            "qom-get": 2,
        }
    )
    found = asyncio.run(discover(server.call, 10))
    assert found.polling_enabled is False
    assert "qom-set" not in [name for name, _ in server.asked]


def test_no_balloon_no_introspection_and_malformed_introspection() -> None:
    server = Server(
        {
            "query-qmp-schema": schema("query-status", "qom-list", "qom-get"),
            "qom-list": [{"name": "x", "type": "child<virtio-net-pci>"}],
        }
    )
    assert asyncio.run(discover(server.call, 10)).stats_source is None
    refused = Server(
        {"query-qmp-schema": ExecuteError("query-qmp-schema", "CommandNotFound", "no")}
    )
    assert asyncio.run(discover(refused.call, 10)).commands == frozenset()
    assert command_names({"not": "a list"}) == frozenset()
    assert command_names(
        [
            1,
            None,
            {"meta-type": "command", "name": ["x"]},
            {"meta-type": "command", "name": "qom-get"},
        ]
    ) == {"qom-get"}
