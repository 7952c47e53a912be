"""The webhook receivers over a real socket: persist before 200, reject without side effects."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest
import requests

from bridge.model import Hint, HintKind
from bridge.secrets import Secret
from sync.runtime.app import HookRejected, HookRoutes, Readiness, create_app
from sync.runtime.metrics import Metrics
from sync.runtime.serve import ServerThread

ADMIN = "admin-token-for-tests-0123456789"
AMO_SECRET = "path-secret-abcdefghijklmnopqrstuvwxyz"


@dataclass
class MemorySink:
    """A fake of our own HintSink interface; ``fail`` simulates a locked store."""

    hints: list[Hint] = field(default_factory=list)
    fail: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, hints: Sequence[Hint]) -> int:
        if self.fail:
            raise RuntimeError("database is locked")
        with self.lock:
            known = {(h.system, h.deal_id) for h in self.hints}
            fresh = [h for h in hints if (h.system, h.deal_id) not in known]
            self.hints.extend(hints)
            return len({(h.system, h.deal_id) for h in fresh})


def _form_parser(system: str) -> Callable[[bytes, str], list[Hint]]:
    def parse(body: bytes, content_type: str) -> list[Hint]:
        fields = parse_qs(body.decode())
        if "id" not in fields:
            raise HookRejected("no deal id")
        now = dt.datetime.now(dt.UTC)
        return [Hint(system, v, HintKind.UPDATED, now) for v in fields["id"]]

    return parse


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def server(sink: MemorySink) -> Iterator[ServerThread]:
    routes = HookRoutes(
        agency=_form_parser("bitrix24:agency"),
        amocrm={"alfa": (Secret(AMO_SECRET), _form_parser("amocrm:alfa"))},
        bitrix_partners={"beta": _form_parser("bitrix24:beta")},
    )
    app = create_app(
        sink=sink,
        routes=lambda: routes,
        readiness=lambda: Readiness(True, {"store": "ok", "crm:alfa": "ok"}),
        metrics=Metrics(),
        admin_token=Secret(ADMIN),
    )
    with ServerThread(app) as running:
        yield running


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_agency_hook_persists_before_answering(server: ServerThread, sink: MemorySink) -> None:
    response = requests.post(f"{server.url}/hooks/bitrix24", data="id=42", headers=FORM, timeout=5)
    assert response.status_code == 200
    assert [(h.system, h.deal_id) for h in sink.hints] == [("bitrix24:agency", "42")]


def test_amocrm_hook_needs_the_partner_secret(server: ServerThread, sink: MemorySink) -> None:
    url = f"{server.url}/hooks/amocrm/alfa"
    ok = requests.post(f"{url}/{AMO_SECRET}", data="id=7", headers=FORM, timeout=5)
    wrong = requests.post(f"{url}/{AMO_SECRET[:-1]}x", data="id=8", headers=FORM, timeout=5)
    unknown = requests.post(
        f"{server.url}/hooks/amocrm/nobody/{AMO_SECRET}", data="id=9", headers=FORM, timeout=5
    )
    assert (ok.status_code, wrong.status_code, unknown.status_code) == (200, 404, 404)
    assert wrong.text == unknown.text, "a wrong secret must look like an unknown partner"
    assert [h.deal_id for h in sink.hints] == ["7"]


def test_bitrix_partner_hook(server: ServerThread, sink: MemorySink) -> None:
    response = requests.post(
        f"{server.url}/hooks/bitrix24/beta", data="id=5", headers=FORM, timeout=5
    )
    assert response.status_code == 200
    assert sink.hints[0].system == "bitrix24:beta"


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        ("/hooks/bitrix24", "nothing=here", FORM, 400),
        ("/hooks/bitrix24", "id=1", {"Content-Type": "text/plain"}, 415),
        ("/hooks/bitrix24", "id=1&pad=" + "x" * 70_000, FORM, 413),
        ("/hooks/bitrix24/unknown", "id=1", FORM, 404),
    ],
)
def test_bad_hooks_get_4xx_and_change_nothing(
    server: ServerThread,
    sink: MemorySink,
    path: str,
    body: str,
    headers: dict[str, str],
    status: int,
) -> None:
    response = requests.post(f"{server.url}{path}", data=body, headers=headers, timeout=5)
    assert response.status_code == status
    assert len(response.text) < 130
    assert sink.hints == []


def test_wrong_method_is_rejected(server: ServerThread, sink: MemorySink) -> None:
    assert requests.get(f"{server.url}/hooks/bitrix24", timeout=5).status_code == 405
    assert sink.hints == []


def test_unpersistable_hint_answers_503(
    server: ServerThread, sink: MemorySink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.fail = True
    with caplog.at_level(logging.INFO, logger="sync.runtime.app"):
        response = requests.post(
            f"{server.url}/hooks/bitrix24", data="id=1", headers=FORM, timeout=5
        )
    assert response.status_code == 503
    assert "locked" not in response.text
    (line,) = [r for r in caplog.records if r.getMessage() == "hook.persist_failed"]
    assert line.exc_info is None  # one line with the reason, not a traceback


def test_health_is_public_readiness_details_are_admin_only(server: ServerThread) -> None:
    assert requests.get(f"{server.url}/healthz", timeout=5).text == "ok"
    public = requests.get(f"{server.url}/readyz", timeout=5).json()
    admin = requests.get(
        f"{server.url}/readyz", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=5
    ).json()
    assert public == {"ready": True}
    assert admin["checks"]["crm:alfa"] == "ok"


def test_metrics_need_the_admin_token_and_count_hints(server: ServerThread) -> None:
    requests.post(f"{server.url}/hooks/bitrix24", data="id=1", headers=FORM, timeout=5)
    requests.post(f"{server.url}/hooks/bitrix24", data="id=1", headers=FORM, timeout=5)
    assert requests.get(f"{server.url}/metrics", timeout=5).status_code == 401
    bad = requests.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert bad.status_code == 401
    text = requests.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=5
    ).text
    assert 'bridge_hints_received_total{source="webhook",system="bitrix24:agency"} 2.0' in text
    assert 'bridge_hints_deduplicated_total{system="bitrix24:agency"} 1.0' in text
    assert ADMIN not in text and AMO_SECRET not in text
