"""A threaded HTTP/1.1 server on 127.0.0.1 that hands requests to an ``App``.

The server owns what every sandbox shares: call counting, simulated latency and
fault injection (5xx bursts, timeouts, a response dropped after the write
committed). The ``App`` owns the API's semantics.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from bridge.sandbox.emulator.counters import CallLog
from bridge.sandbox.emulator.faults import FaultKind, FaultPlan

MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";")[0].strip().lower()


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, content_type: str = "application/json"
    ) -> Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": f"{content_type}; charset=utf-8"})


class App(Protocol):
    """The API semantics of one sandbox."""

    def api_method(self, request: Request) -> str:
        """The API method a request calls (lower case), for counting and fault matching."""
        ...

    def handle(self, request: Request) -> Response:
        """Answer one request. Runs on the server's worker threads."""
        ...


class _DropConnection(Exception):
    """Close the socket without an answer (simulated timeout / lost response)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait
    # ~40 ms for the delayed ACK on every response.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines contain webhook secrets; the sandbox keeps quiet.
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(Response(413, b"payload too large"))
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query_string=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.owner.dispatch(request)
        except _DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        if "Date" in response.headers:
            # The app's own (simulated) clock wins; never send two Date headers.
            self.log_request(response.status)
            self.send_response_only(response.status)
            self.send_header("Server", self.version_string())
        else:
            self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: EmulatorServer


class EmulatorServer:
    """Serves an ``App`` over real HTTP until :meth:`stop`."""

    # How often the serving thread wakes to see whether :meth:`stop` was asked for: the
    # longest a stop waits. A process serving hundreds of sandboxes (the partner-scale
    # benchmark's) sets it longer, or their idle wake-ups cost it a share of a core.
    poll_interval = 0.05

    def __init__(self, app: App, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.calls = CallLog()
        self.faults = FaultPlan()
        self.latency = 0.0
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def dispatch(self, request: Request) -> Response:
        self.calls.request()
        if self.latency:
            time.sleep(self.latency)
        fault = self.faults.take(self.app.api_method(request))
        if fault is not None and fault.kind is FaultKind.SERVER_ERROR:
            self.calls.status(fault.status)
            return Response(
                fault.status,
                b"<html>Service temporarily unavailable</html>",
                {"Content-Type": "text/html"},
            )
        if fault is not None and fault.kind is FaultKind.TIMEOUT:
            time.sleep(fault.delay)
            raise _DropConnection
        response = self.app.handle(request)
        self.calls.status(response.status)
        if fault is not None and fault.kind is FaultKind.DROP_AFTER_COMMIT:
            raise _DropConnection
        return response

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=f"sandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
