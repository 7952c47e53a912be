"""The amoCRM transport reads the environment's proxy settings once, and still honours
them: a proxy for the account's host is used, a host in ``NO_PROXY`` is called directly."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bridge.amocrm.oauth import LongLivedToken
from bridge.amocrm.transport import Transport
from bridge.ratelimit import Pacer
from bridge.secrets import Secret


class _Recorder(BaseHTTPRequestHandler):
    """Answers every GET with ``{}`` and keeps its request line (a proxy sees the whole URL)."""

    seen: list[str]

    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        body = json.dumps({}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _transport(url: str) -> Transport:
    return Transport(
        url,
        LongLivedToken(Secret("proxy-test-token-0000000")),
        system="amocrm:proxy",
        pacer=Pacer(rate=1000, burst=1000),
        timeout=5,
        attempts=1,
    )


def test_a_proxy_from_the_environment_is_used(
    recorder: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = f"http://127.0.0.1:{recorder.server_address[1]}"
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = _transport("http://partner.invalid")
    try:
        transport.request("GET", "/api/v4/account")
    finally:
        transport.close()
    assert recorder.seen == ["http://partner.invalid/api/v4/account"]  # type: ignore[attr-defined]


def test_a_host_in_no_proxy_is_called_directly(
    recorder: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    transport = _transport(f"http://127.0.0.1:{recorder.server_address[1]}")
    try:
        transport.request("GET", "/api/v4/account")
    finally:
        transport.close()
    assert recorder.seen == ["/api/v4/account"]  # type: ignore[attr-defined]
