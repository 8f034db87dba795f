"""``/metrics`` over HTTP: the last rendered page, served from a thread of its own.

Its one rule: a scrape never waits on a VM, nor on the agent's event loop.  The loop
renders the metrics (``prometheus_client.generate_latest``, the text format 0.0.4, over the
:class:`~.metrics.AgentCollector`) every ``render_interval`` and hands the bytes to a
:class:`MetricsPage`; the HTTP server runs in its own thread and answers every scrape
with the page as it is, so its latency does not depend on how many VMs there are or what
they do.  The server is bounded like any input from outside: at most
:data:`MAX_CONNECTIONS` at once (more are closed at once), a connection idle for
:data:`IDLE_TIMEOUT` seconds is closed, and requests are parsed by the standard library
with its limits on line length and header count.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

MAX_CONNECTIONS: Final = 32
IDLE_TIMEOUT: Final = 10.0
_INDEX: Final = b'<html><body><a href="/metrics">/metrics</a></body></html>\n'


class MetricsPage:
    """The last rendered metrics (one bytes object, replaced whole)."""

    def __init__(self) -> None:
        self.body = b""

    def update(self, body: bytes) -> None:
        self.body = body  # one reference swap: a scrape sees the old page or the new one


class _Handler(BaseHTTPRequestHandler):
    server: _MetricsHTTPServer
    timeout = IDLE_TIMEOUT
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            body, kind, code = self.server.page.body, CONTENT_TYPE_PLAIN_0_0_4, 200
        elif path == "/":
            body, kind, code = _INDEX, "text/html; charset=utf-8", 200
        else:
            body, kind, code = b"not found: try /metrics\n", "text/plain; charset=utf-8", 404
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every few seconds is not news


class _MetricsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = MAX_CONNECTIONS

    def __init__(self, address: tuple[str, int], page: MetricsPage) -> None:
        self.page = page
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many at once: this one is closed
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class MetricsServer:
    """Serves a :class:`MetricsPage` on ``host:port`` (port 0: a free one, see
    :attr:`port`) until :meth:`close`."""

    def __init__(self, page: MetricsPage, host: str, port: int) -> None:
        self._server = _MetricsHTTPServer((host, port), page)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pyqmp-metrics", daemon=True
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
