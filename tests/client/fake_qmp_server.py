"""A scripted QMP server in the test's own event loop, for what a real server will not do
on cue: hold a reply back, answer twice, send garbage, hang up mid-call, flood events.

It greets, answers ``qmp_capabilities`` itself, and hands every other request (a parsed
dict) to ``handler(server, connection, request)``; the handler answers with
``connection.reply(request, value)`` when and if it likes.  It listens on a unix socket in
a temporary directory and is closed by the test's ``async with``.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from typing import Any

GREETING = {
    "QMP": {
        "version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": "fake"},
        "capabilities": ["oob"],
    }
}

Handler = Callable[["FakeServer", "FakeConnection", dict[str, Any]], Awaitable[None]]


class FakeConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, message: Any) -> None:
        self.write(json.dumps(message).encode() + b"\r\n")

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def reply(self, request: dict[str, Any], value: Any = None) -> None:
        self.send({"return": {} if value is None else value, "id": request.get("id")})

    def error(self, request: dict[str, Any], error_class: str, desc: str) -> None:
        self.send({"id": request.get("id"), "error": {"class": error_class, "desc": desc}})

    def event(self, name: str, data: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {
            "timestamp": {"seconds": 1, "microseconds": 0},
            "event": name,
        }
        if data is not None:
            message["data"] = data
        self.send(message)

    def hang_up(self) -> None:
        self.writer.close()


async def echo_handler(server: FakeServer, conn: FakeConnection, request: dict[str, Any]) -> None:
    """Answer every command with its arguments (``{}`` if none)."""
    conn.reply(request, request.get("arguments", {}))


class FakeServer:
    def __init__(self, handler: Handler = echo_handler, greeting: bytes | None = None) -> None:
        self.handler = handler
        self.greeting = greeting
        self.requests: list[dict[str, Any]] = []
        self.connections: list[FakeConnection] = []
        self._directory = tempfile.TemporaryDirectory(prefix="pyqmp-fake-")
        self.path = os.path.join(self._directory.name, "qmp.sock")
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, self.path)

    async def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for conn in self.connections:
            conn.hang_up()

    async def close(self) -> None:
        await self.stop_listening()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._directory.cleanup()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = FakeConnection(reader, writer)
        self.connections.append(conn)
        try:
            if self.greeting is not None:
                conn.write(self.greeting)
            else:
                conn.send(GREETING)
            while True:
                line = await reader.readline()
                if not line:
                    break
                request = json.loads(line)
                if request.get("execute") == "qmp_capabilities":
                    conn.reply(request)
                    continue
                self.requests.append(request)
                await self.handler(self, conn, request)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
