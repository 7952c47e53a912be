"""The shared sandbox machinery, over real sockets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from bridge.sandbox.emulator import (
    EmulatorServer,
    EventOutbox,
    Fault,
    FaultKind,
    OutboxPolicy,
    Request,
    Response,
    SimClock,
)


class CountingApp:
    """Echoes the path; counts how many calls really ran (committed)."""

    def __init__(self) -> None:
        self.committed = 0

    def api_method(self, request: Request) -> str:
        return request.path.strip("/").lower()

    def handle(self, request: Request) -> Response:
        self.committed += 1
        return Response.json({"path": request.path, "body": request.body.decode()})


@pytest.fixture
def served() -> Iterator[tuple[EmulatorServer, CountingApp]]:
    app = CountingApp()
    with EmulatorServer(app) as server:
        yield server, app


def test_serves_json_and_counts(served: tuple[EmulatorServer, CountingApp]) -> None:
    server, _ = served
    reply = requests.post(f"{server.base_url}/Echo", data="привет".encode(), timeout=5)
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json() == {"path": "/Echo", "body": "привет"}
    assert server.calls.requests == 1
    assert server.calls.statuses() == {200: 1}


def test_server_error_burst_does_not_run_the_call(
    served: tuple[EmulatorServer, CountingApp],
) -> None:
    server, app = served
    server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=2, status=502, method="echo"))
    statuses = [requests.get(f"{server.base_url}/echo", timeout=5).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert app.committed == 1
    assert server.faults.pending == 0


def test_fault_only_hits_its_method(served: tuple[EmulatorServer, CountingApp]) -> None:
    server, _ = served
    server.faults.arm(Fault(FaultKind.SERVER_ERROR, method="other"))
    assert requests.get(f"{server.base_url}/echo", timeout=5).status_code == 200
    assert server.faults.pending == 1


def test_drop_after_commit_runs_the_call_but_loses_the_answer(
    served: tuple[EmulatorServer, CountingApp],
) -> None:
    server, app = served
    server.faults.arm(Fault(FaultKind.DROP_AFTER_COMMIT))
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{server.base_url}/write", timeout=5)
    assert app.committed == 1


def test_timeout_holds_then_closes(served: tuple[EmulatorServer, CountingApp]) -> None:
    server, app = served
    server.faults.arm(Fault(FaultKind.TIMEOUT, delay=0.3))
    with pytest.raises(requests.RequestException):
        requests.get(f"{server.base_url}/slow", timeout=0.1)
    assert app.committed == 0


def test_clock_advances_and_freezes() -> None:
    clock = SimClock()
    clock.freeze()
    start = clock.time()
    clock.advance(86400)
    assert clock.time() == start + 86400
    assert clock.now().tzinfo is not None
    with pytest.raises(ValueError):
        clock.advance(-1)


class _Receiver:
    """A local HTTP endpoint that records form bodies (stands in for the bridge)."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[str] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(self.rfile.read(length).decode())
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_outbox_delivers_duplicates_and_reports_results() -> None:
    receiver = _Receiver()
    outbox = EventOutbox(OutboxPolicy(duplicate=1.0, seed=1))
    results: list[tuple[str, bool]] = []
    try:
        outbox.send(receiver.url, "a=1", key="h1", on_result=lambda k, ok: results.append((k, ok)))
        assert outbox.wait_idle()
    finally:
        outbox.close()
        receiver.close()
    assert receiver.bodies == ["a=1", "a=1"]
    assert results == [("h1", True), ("h1", True)]


def test_outbox_drops_and_reorders() -> None:
    receiver = _Receiver()
    dropping = EventOutbox(OutboxPolicy(drop=1.0))
    dropping.send(receiver.url, "lost")
    assert dropping.wait_idle()
    assert dropping.dropped == 1
    dropping.close()
    reordering = EventOutbox(OutboxPolicy(reorder=1.0))
    reordering.send(receiver.url, "first")
    reordering.policy.reorder = 0.0
    reordering.send(receiver.url, "second")
    assert reordering.wait_idle()
    reordering.close()
    receiver.close()
    assert receiver.bodies == ["second", "first"]


def test_outbox_reports_failed_delivery_without_retrying() -> None:
    receiver = _Receiver(status=500)
    outbox = EventOutbox()
    results: list[bool] = []
    outbox.send(receiver.url, "x=1", on_result=lambda _k, ok: results.append(ok))
    assert outbox.wait_idle()
    outbox.close()
    receiver.close()
    assert results == [False]
    assert receiver.bodies == ["x=1"]
