"""Headless Chromium driven over the DevTools protocol, for the manual's browser test.

Chromium (Debian's ``chromium``) is started with a temporary profile and
``--remote-debugging-port=0``; the port it picked is read from the ``DevTools listening on``
line it prints, so nothing is guessed.  It listens on 127.0.0.1 only.  One page target is
opened and driven with ``Page.navigate`` / ``Runtime.evaluate`` / ``Input.insertText`` over a
websocket (the ``websockets`` library's synchronous client).  The process is stopped by its
PID when the context ends.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

DEADLINE = 120.0  # seconds; generous, the CI machine is slow


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class ChromiumError(Exception):
    pass


class Chromium:
    def __init__(self, binary: str, width: int = 1280, height: int = 900) -> None:
        self.binary = binary
        self.size = (width, height)
        self.profile = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.socket: ClientConnection | None = None
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.stack = contextlib.ExitStack()

    def __enter__(self) -> Chromium:
        self.profile = tempfile.mkdtemp(prefix="pyqmp-chromium-")
        stderr_path = os.path.join(self.profile, "stderr.log")
        with open(stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--headless",
                    "--no-sandbox",  # needed when the tests run as root (CI containers)
                    "--disable-gpu",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                    f"--user-data-dir={self.profile}",
                    f"--window-size={self.size[0]},{self.size[1]}",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            port = self._wait_for_port(stderr_path)
            self.socket = self.stack.enter_context(
                connect(self._page_websocket(port), max_size=None, open_timeout=DEADLINE)
            )
            self.call("Page.enable")
            self.call("Runtime.enable")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stack.close()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _wait_for_port(self, stderr_path: str) -> int:
        deadline = time.monotonic() + DEADLINE
        assert self.process is not None
        while time.monotonic() < deadline:
            with open(stderr_path, encoding="utf-8", errors="replace") as stream:
                found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", stream.read())
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                with open(stderr_path, encoding="utf-8", errors="replace") as stream:
                    raise ChromiumError(f"chromium exited: {stream.read()[-2000:]}")
            time.sleep(0.05)
        raise ChromiumError("chromium did not say where DevTools listens")

    def _page_websocket(self, port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=DEADLINE) as r:
            targets = json.load(r)
        for target in targets:
            if target.get("type") == "page":
                return str(target["webSocketDebuggerUrl"])
        raise ChromiumError(f"no page target in {targets}")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events are kept meanwhile)."""
        assert self.socket is not None
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + DEADLINE
        while True:
            message = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise ChromiumError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            if "method" in message:
                self.events.append(message)

    def wait_for_event(self, method: str) -> dict[str, Any]:
        assert self.socket is not None
        deadline = time.monotonic() + DEADLINE
        for index, event in enumerate(self.events):
            if event["method"] == method:
                return self.events.pop(index)
        while True:
            message = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("method") == method:
                return dict(message)
            if "method" in message:
                self.events.append(message)

    def navigate(self, url: str) -> None:
        """Open ``url`` and wait for its load event."""
        self.events = [event for event in self.events if event["method"] != "Page.loadEventFired"]
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise ChromiumError(f"navigating to {url}: {result['errorText']}")
        if "loaderId" in result:  # absent when only the fragment changed: nothing loads
            self.wait_for_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise ChromiumError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_until(self, expression: str) -> Any:
        """Evaluate ``expression`` until it is truthy; return that value."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise ChromiumError(f"never true: {expression}")

    def type_text(self, text: str) -> None:
        """Type into the focused element, as a user does (input events fire)."""
        self.call("Input.insertText", text=text)

    def exceptions(self) -> list[dict[str, Any]]:
        return [event for event in self.events if event["method"] == "Runtime.exceptionThrown"]

    def screenshot(self, path: str) -> None:
        result = self.call("Page.captureScreenshot", format="png")
        with open(path, "wb") as stream:
            stream.write(base64.b64decode(result["data"]))
