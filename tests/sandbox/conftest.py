"""Fixtures for the sandbox tests (each CRM's fixtures in its own section)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.bitrix.portal import BitrixSandbox

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
        self.delay = 0.0  # seconds before answering: a slow endpoint
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
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
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


# --- Bitrix24 ----------------------------------------------------------------------------


class BitrixApi:
    """Plain HTTP calls to a Bitrix24 sandbox webhook (JSON body unless ``form`` is given)."""

    def __init__(self, sandbox: BitrixSandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()

    def __call__(
        self, method: str, params: dict[str, Any] | None = None, *, form: str | None = None
    ) -> requests.Response:
        url = self.sandbox.webhook_url + method
        if form is not None:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            return self.session.post(url, data=form.encode(), headers=headers, timeout=5)
        return self.session.post(url, json=params or {}, timeout=5)

    def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The ``result`` of a call that must succeed."""
        reply = self(method, params)
        assert reply.status_code == 200, reply.text
        return reply.json()["result"]

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def bitrix() -> Iterator[BitrixSandbox]:
    """An empty portal without the request-rate limit (limits have their own tests)."""
    with BitrixSandbox(seed="empty", rate_limit=False) as sandbox:
        yield sandbox


@pytest.fixture
def bitrix_demo() -> Iterator[BitrixSandbox]:
    """The agency's demo portal, without the request-rate limit."""
    with BitrixSandbox(seed="demo", rate_limit=False) as sandbox:
        yield sandbox


@pytest.fixture
def bitrix_api(bitrix: BitrixSandbox) -> Iterator[BitrixApi]:
    api = BitrixApi(bitrix)
    yield api
    api.close()


@pytest.fixture
def bitrix_demo_api(bitrix_demo: BitrixSandbox) -> Iterator[BitrixApi]:
    api = BitrixApi(bitrix_demo)
    yield api
    api.close()
