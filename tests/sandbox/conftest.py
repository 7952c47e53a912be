"""Fixtures for the sandbox tests (each CRM's fixtures in its own section)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from bridge.amocrm.sandbox import AmoSandbox

# --- amoCRM ------------------------------------------------------------------------------


class AmoApi:
    """A thin requests wrapper for talking to an amoCRM sandbox with a bearer token."""

    def __init__(self, sandbox: AmoSandbox, token: str | None = None) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token or sandbox.long_lived_token}"

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else self.sandbox.base_url + path
        return self.session.request(method, url, timeout=5, **kwargs)

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def amo() -> Iterator[AmoSandbox]:
    """The demo partner account, no rate limit (limits have their own tests)."""
    with AmoSandbox(seed="demo", rate_limit=None) as sandbox:
        yield sandbox


@pytest.fixture
def amo_api(amo: AmoSandbox) -> Iterator[AmoApi]:
    api = AmoApi(amo)
    yield api
    api.close()


class HookReceiver:
    """A local HTTP endpoint that records POSTed bodies and answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.status = 200
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                with receiver._cond:
                    receiver.bodies.append(body)
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                    receiver._cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.bodies) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.bodies)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hook_receiver() -> Iterator[HookReceiver]:
    receiver = HookReceiver()
    yield receiver
    receiver.close()
