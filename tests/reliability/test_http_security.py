"""The HTTP surface under attack: forged, replayed, oversized, malformed, fuzzed.

One daemon (module scope) serves the app from the built-in sandbox world on a
real socket. Every rejection must be a 4xx with a short body that names no
secret, leave the inbox as it was, and never be a 500 — also under Hypothesis.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bridge.amocrm import webhook as amo_webhook
from bridge.bitrix import webhook as bitrix_webhook
from bridge.crm import WebhookRejected
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.secrets import Secret
from bridge.store.tables import HintRow
from sync.runtime import app as app_module
from sync.runtime.daemon import Daemon, DaemonOptions
from tests.reliability.invariants import NAMES, REPORTS, InvariantReport, secrets_of

ADMIN = "adm-" + "x7Qp2LmN9vRt4WzY"  # the test's own admin token, grepped for like the others
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
FORM = "application/x-www-form-urlencoded"
SEEN: list[str] = []  # every response body and log line, grepped for secrets at the end
Served = tuple[SandboxWorld, Daemon]  # the sandboxes and the daemon answering over HTTP


class _Lines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        SEEN.append(self.format(record))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    handler = _Lines()
    logging.getLogger().addHandler(handler)
    options = DaemonOptions(poll_interval=dt.timedelta(hours=1), debounce=dt.timedelta(hours=1))
    try:
        with sandbox_world(tmp_path_factory.mktemp("security")) as world:
            daemon = Daemon(world.settings(admin_token=ADMIN), options=options).start()
            try:
                assert daemon.runner is not None and daemon.runner.wait_idle(60)
                yield world, daemon
            finally:
                daemon.stop()
    finally:
        logging.getLogger().removeHandler(handler)


def _url(daemon: Daemon, path: str) -> str:
    assert daemon.server is not None
    return f"{daemon.server.url}{path}"


def _hints(daemon: Daemon) -> list[tuple[str, str, int]]:
    assert daemon.store is not None
    with daemon.store.transaction() as session:
        rows = list(session.exec(select(HintRow)))
        return sorted((r.system, r.deal_id, r.count) for r in rows)


def _event(token: str | None, deal_id: str = "1", event: str = "ONCRMDEALUPDATE") -> str:
    body = {"event": event, "data[FIELDS][ID]": deal_id, "ts": str(int(time.time()))}
    if token is not None:
        body["auth[application_token]"] = token
    return urlencode(body)


def _post(daemon: Daemon, path: str, body: bytes | str, ctype: str = FORM) -> requests.Response:
    reply = requests.post(
        _url(daemon, path), data=body, headers={"Content-Type": ctype}, timeout=10
    )
    SEEN.append(reply.text)
    return reply


def _assert_rejected(reply: requests.Response, world: SandboxWorld, *codes: int) -> None:
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text)
    if codes:
        assert reply.status_code in codes, (reply.status_code, reply.text)
    assert len(reply.text) <= 120
    for secret in secrets_of(world.env, also=[ADMIN]):
        assert secret not in reply.text


# --- forged and misaddressed hooks -------------------------------------------------------
@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_forged_bitrix_events_are_refused_without_side_effect(
    served: Served, token: str | None
) -> None:
    world, daemon = served
    before = _hints(daemon)
    for path in ("/hooks/bitrix24", "/hooks/bitrix24/beta"):
        _assert_rejected(_post(daemon, path, _event(token, "424242")), world)
    assert _hints(daemon) == before


def test_a_partner_token_does_not_open_the_agency_route(served: Served) -> None:
    world, daemon = served
    before = _hints(daemon)
    reply = _post(daemon, "/hooks/bitrix24", _event(world.env["BETA_B24_APP_TOKEN"], "77"))
    _assert_rejected(reply, world, 403)
    assert _hints(daemon) == before


@pytest.mark.parametrize("secret", ["", "wrong", "alfa"])
def test_amocrm_hooks_with_a_wrong_path_secret_are_404(served: Served, secret: str) -> None:
    world, daemon = served
    before = _hints(daemon)
    body = urlencode({"leads[update][0][id]": "5", "account[subdomain]": "alfa"})
    path = f"/hooks/amocrm/alfa/{secret}" if secret else "/hooks/amocrm/alfa/"
    _assert_rejected(_post(daemon, path, body), world, 404, 405)
    other = f"/hooks/amocrm/nobody/{world.env['ALFA_AMO_HOOK_SECRET']}"
    _assert_rejected(_post(daemon, other, body), world, 404)
    assert _hints(daemon) == before


def test_a_replayed_event_folds_into_one_hint(served: Served) -> None:
    """Hints are not data: a replay can only make the bridge re-read a deal, once."""
    world, daemon = served
    body = _event(world.env["AGENCY_B24_APP_TOKEN"], "9000001")
    for _ in range(5):
        assert _post(daemon, "/hooks/bitrix24", body).status_code == 200
    mine = [h for h in _hints(daemon) if h[1] == "9000001"]
    assert len(mine) == 1 and mine[0][2] == 5


# --- size, encoding, method, content type ------------------------------------------------
def test_oversized_bodies_are_413_declared_or_streamed(served: Served) -> None:
    world, daemon = served
    before = _hints(daemon)
    big = _event(world.env["AGENCY_B24_APP_TOKEN"]) + "&pad=" + "x" * 70_000
    _assert_rejected(_post(daemon, "/hooks/bitrix24", big), world, 413)
    chunks = (big[i : i + 8192].encode() for i in range(0, len(big), 8192))
    streamed = requests.post(
        _url(daemon, "/hooks/bitrix24"), data=chunks, headers={"Content-Type": FORM}, timeout=10
    )
    _assert_rejected(streamed, world, 413)
    assert _hints(daemon) == before


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\x00garbage",
        b"event=ONCRMDEALUPDATE&data%5BFIELDS%5D%5BID%5D=%ZZ",
        b"data[FIELDS][ID]=1&data[FIELDS][ID][x]=2",
        b"=" * 500,
        b"event=ONCRMDEALUPDATE&data[FIELDS][ID]=-1",
        b"event=ONCRMDEALUPDATE&data[FIELDS][ID]=12345678901234567890123",
    ],
)
def test_malformed_encodings_are_400(served: Served, body: bytes) -> None:
    world, daemon = served
    before = _hints(daemon)
    token = world.env["AGENCY_B24_APP_TOKEN"].encode()
    _assert_rejected(
        _post(daemon, "/hooks/bitrix24", body + b"&auth[application_token]=" + token), world
    )
    _assert_rejected(_post(daemon, "/hooks/bitrix24", b'{"event": ', "application/json"), world)
    assert _hints(daemon) == before


def test_wrong_methods_and_content_types(served: Served) -> None:
    world, daemon = served
    for method in ("GET", "PUT", "DELETE"):
        reply = requests.request(method, _url(daemon, "/hooks/bitrix24"), timeout=10)
        SEEN.append(reply.text)
        _assert_rejected(reply, world, 405)
    body = _event(world.env["AGENCY_B24_APP_TOKEN"])
    for ctype in ("text/plain", "multipart/form-data", ""):
        _assert_rejected(_post(daemon, "/hooks/bitrix24", body, ctype), world, 415)
    secret = world.env["ALFA_AMO_HOOK_SECRET"]
    amo = urlencode({"leads[update][0][id]": "5"})
    _assert_rejected(_post(daemon, f"/hooks/amocrm/alfa/{secret}", amo, "application/json"), world)


# --- admin endpoints ---------------------------------------------------------------------
def test_admin_endpoints_need_the_token_even_on_localhost(served: Served) -> None:
    world, daemon = served
    url = _url(daemon, "/metrics")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": ADMIN}):
        reply = requests.get(url, headers=headers, timeout=10)
        SEEN.append(reply.text)
        _assert_rejected(reply, world, 401)
    good = requests.get(url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    SEEN.append(good.text)
    assert good.status_code == 200 and "hooks_rejected" in good.text
    anonymous = requests.get(_url(daemon, "/readyz"), timeout=10).json()
    assert set(anonymous) == {"ready"}
    admin = requests.get(
        _url(daemon, "/readyz"), headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10
    )
    SEEN.append(admin.text)
    assert "checks" in admin.json()


def test_settings_and_mapping_redact_their_secrets(served: Served) -> None:
    world, daemon = served
    assert daemon.engine is not None
    shown = [repr(daemon.settings), str(daemon.settings), repr(daemon.engine.mapping)]
    SEEN.extend(shown)
    for secret in secrets_of(world.env, also=[ADMIN]):
        assert not any(secret in text for text in shown)


# --- fuzzing -----------------------------------------------------------------------------
@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(
    body=st.one_of(
        st.binary(max_size=400),
        st.dictionaries(
            st.sampled_from(["event", "data[FIELDS][ID]", "auth[application_token]", "ts", "x[]"]),
            st.text(max_size=30),
        ).map(lambda d: urlencode(d).encode()),
    ),
    ctype=st.sampled_from([FORM, "application/json", "text/plain", ""]),
)
def test_bitrix_parser_accepts_or_rejects_never_crashes(body: bytes, ctype: str) -> None:
    try:
        (hint,) = bitrix_webhook.Webhook(Secret("tok"), "bitrix24:x").parse(body, ctype, now=NOW)
    except WebhookRejected as exc:
        assert exc.reason in str(exc) and "tok" not in str(exc)
    else:
        assert hint.deal_id.isdigit()


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(
    body=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=200),
        st.dictionaries(
            st.sampled_from(
                [
                    "leads[update][0][id]",
                    "leads[add][0][id]",
                    "leads[status][0][id]",
                    "leads[delete][0][id]",
                    "account[subdomain]",
                    "contacts[update][0][id]",
                    "leads[update][x]",
                ]
            ),
            st.text(max_size=12),
        ).map(urlencode),
    ),
    presented=st.sampled_from(["hooksecret", "wrong", ""]),
)
def test_amocrm_parser_accepts_or_rejects_never_crashes(body: bytes | str, presented: str) -> None:
    try:
        if not amo_webhook.authentic(Secret("hooksecret"), presented):
            raise WebhookRejected("unknown webhook")  # what the route answers
        raw = body.encode() if isinstance(body, str) else body
        hints = amo_webhook.Webhook("amocrm:x", "alfa").parse(raw, amo_webhook.FORM, now=NOW)
    except WebhookRejected as exc:
        assert "hooksecret" not in str(exc)
    else:
        assert presented == "hooksecret"
        assert all(h.deal_id.isdigit() for h in hints)


def test_the_app_over_a_socket_never_answers_500(served: Served) -> None:
    world, daemon = served
    paths = [
        "/hooks/bitrix24",
        "/hooks/bitrix24/beta",
        "/hooks/bitrix24/nobody",
        f"/hooks/amocrm/alfa/{world.env['ALFA_AMO_HOOK_SECRET']}",
        "/hooks/amocrm/alfa/guess",
    ]
    token = world.env["AGENCY_B24_APP_TOKEN"]
    statuses: set[int] = set()
    with requests.Session() as http:

        @settings(max_examples=150, derandomize=True, deadline=None, database=None)
        @given(
            path=st.sampled_from(paths),
            body=st.one_of(
                st.binary(max_size=300),
                st.dictionaries(
                    st.sampled_from(
                        ["event", "data[FIELDS][ID]", "leads[update][0][id]", "a[b][c]", "[]"]
                    ),
                    st.one_of(st.text(max_size=20), st.just("ONCRMDEALUPDATE")),
                ).map(lambda d: urlencode({**d, "auth[application_token]": token})),
            ),
            ctype=st.sampled_from([FORM, "application/json", "text/plain"]),
        )
        def fuzz(path: str, body: bytes | str, ctype: str) -> None:
            reply = http.post(
                _url(daemon, path), data=body, headers={"Content-Type": ctype}, timeout=10
            )
            SEEN.append(reply.text)
            statuses.add(reply.status_code)
            assert reply.status_code < 500, (path, body, reply.text)

        fuzz()
    assert statuses & {400, 403, 404, 415}, statuses


# --- hostile clients: deep keys, too many keys, aborted, slow and pipelined bodies ---------
class _Records(logging.Handler):
    """Every record logged while a test runs, to assert on log volume, not only on status."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._cond = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._cond:
            self.records.append(record)
            self._cond.notify_all()

    def wait_for(self, event: str, count: int, timeout: float = 20) -> list[logging.LogRecord]:
        def found() -> list[logging.LogRecord]:
            return [r for r in self.records if r.getMessage() == event]

        with self._cond:
            self._cond.wait_for(lambda: len(found()) >= count, timeout)
            return found()

    def text(self) -> str:
        formatter = logging.Formatter()
        return "\n".join(formatter.format(r) for r in self.records)


@pytest.fixture
def records() -> Iterator[_Records]:
    handler = _Records()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)  # what the daemon runs at: the hang-up lines are INFO
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _raw(daemon: Daemon, path: str, head_body: bytes, length: int) -> socket.socket:
    """A connection that sent the headers (declaring ``length``) and ``head_body``."""
    assert daemon.server is not None
    sock = socket.create_connection((daemon.server.host, daemon.server.port), timeout=10)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: bridge\r\nContent-Type: {FORM}\r\n"
        f"Content-Length: {length}\r\n\r\n".encode()
        + head_body
    )
    return sock


def _read_responses(sock: socket.socket, count: int) -> list[int]:
    """Status codes of ``count`` responses read from ``sock`` (bodies are Content-Length)."""
    data = b""
    statuses: list[int] = []
    while len(statuses) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {statuses}"
            data += chunk
            continue
        head = data[:head_end].decode("latin-1")
        length = int(
            next(
                (
                    line.split(":", 1)[1]
                    for line in head.split("\r\n")
                    if line.lower().startswith("content-length:")
                ),
                "0",
            )
        )
        while len(data) < head_end + 4 + length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed mid-response"
            data += chunk
        statuses.append(int(head.split(" ", 2)[1]))
        data = data[head_end + 4 + length :]
    return statuses


def _assert_short_lines(found: list[logging.LogRecord], *, most: int = 300) -> None:
    for record in found:
        assert record.exc_info is None, record.getMessage()
        assert len(logging.Formatter().format(record)) < most


@pytest.mark.parametrize("route", ["amocrm", "bitrix24", "bitrix24/beta"])
def test_deeply_nested_keys_are_400_with_the_reason_on_both_routes(
    served: Served, records: _Records, route: str
) -> None:
    world, daemon = served
    before = _hints(daemon)
    path = (
        f"/hooks/amocrm/alfa/{world.env['ALFA_AMO_HOOK_SECRET']}"
        if route == "amocrm"
        else (f"/hooks/{route}")
    )
    deep = "leads" + "[x]" * 900 + "=1"  # 2.7 KB: once a RecursionError and a 500
    reply = _post(daemon, path, deep)
    _assert_rejected(reply, world, 400)
    assert "deeper than" in reply.text
    many = "&".join(f"k{i}=1" for i in range(2000))
    reply = _post(daemon, path, many)
    _assert_rejected(reply, world, 400)
    assert "more than" in reply.text and "keys" in reply.text
    rejected = records.wait_for("hook.rejected", 2)
    assert len(rejected) == 2
    _assert_short_lines(rejected)
    assert "Traceback" not in records.text()
    assert _hints(daemon) == before


def test_aborted_bodies_leave_one_short_line_each(served: Served, records: _Records) -> None:
    world, daemon = served
    before = _hints(daemon)
    authentic = f"/hooks/amocrm/alfa/{world.env['ALFA_AMO_HOOK_SECRET']}"
    clients = 60
    for i in range(clients):
        path = authentic if i % 2 == 0 else "/hooks/amocrm/alfa/guess"
        _raw(daemon, path, b"leads[update][0][id]=5&", 1000).close()
    gone = records.wait_for("hook.client_gone", clients // 2)
    refused = records.wait_for("hook.rejected", clients // 2)
    assert len(gone) == clients // 2 and len(refused) == clients // 2
    _assert_short_lines(gone + refused)
    assert all(r.levelno <= logging.INFO for r in gone)
    text = records.text()
    assert "Traceback" not in text and "ClientDisconnect" not in text
    assert len(text) < clients * 300  # was ~5 KB of traceback per client
    assert _hints(daemon) == before


def test_unauthenticated_bodies_are_never_read(served: Served, records: _Records) -> None:
    _, daemon = served
    # Headers promise 60 KB and nothing follows: only a URL check can answer this at once.
    for path in ("/hooks/amocrm/alfa/guess", "/hooks/amocrm/nobody/x", "/hooks/bitrix24/nobody"):
        sock = _raw(daemon, path, b"", 60_000)
        try:
            assert _read_responses(sock, 1) == [404]
        finally:
            sock.close()
    _assert_short_lines(records.wait_for("hook.rejected", 3))


def test_slow_bodies_time_out_with_408(
    served: Served, records: _Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, daemon = served
    monkeypatch.setattr(app_module, "BODY_TIMEOUT", 0.3)
    path = f"/hooks/amocrm/alfa/{world.env['ALFA_AMO_HOOK_SECRET']}"
    sock = _raw(daemon, path, b"leads[update][0]", 500)  # the rest never comes
    try:
        assert _read_responses(sock, 1) == [408]
    finally:
        sock.close()
    (line,) = records.wait_for("hook.rejected", 1)
    _assert_short_lines([line])
    assert getattr(line, "bridge_fields", {}).get("status") == 408


def test_pipelined_requests_each_get_their_answer(served: Served, records: _Records) -> None:
    world, daemon = served
    secret = world.env["ALFA_AMO_HOOK_SECRET"]
    good = urlencode({"leads[update][0][id]": "9100001", "account[subdomain]": "alfa"}).encode()
    deep = ("leads" + "[x]" * 100 + "=1").encode()

    def request(path: str, body: bytes) -> bytes:
        return (
            f"POST {path} HTTP/1.1\r\nHost: bridge\r\nContent-Type: {FORM}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    batch = b"".join(
        [
            request("/hooks/amocrm/alfa/guess", good),  # refused before its body is read
            request(f"/hooks/amocrm/alfa/{secret}", deep),
            request(f"/hooks/amocrm/alfa/{secret}", good),
        ]
    )
    assert daemon.server is not None
    with socket.create_connection((daemon.server.host, daemon.server.port), timeout=10) as sock:
        sock.sendall(batch)
        assert _read_responses(sock, 3) == [404, 400, 200]
    assert any(h[1] == "9100001" for h in _hints(daemon))
    _assert_short_lines(records.wait_for("hook.rejected", 2))


def test_nothing_printed_or_stored_names_a_secret(served: Served) -> None:
    """Runs last in this module: every response body and log line collected above."""
    world, _ = served
    secrets = secrets_of(world.env, also=[ADMIN])
    report = InvariantReport(
        "HTTP surface: forged/replayed/oversized/malformed/fuzzed hooks, admin auth",
        faults="forged tokens, wrong path secrets, 70 KB bodies, bad encodings, fuzz",
        changes=0,
    )
    report.checked["texts scanned"] += len(SEEN)
    report.checked["secrets"] += len(secrets)
    for text in SEEN:
        for secret in secrets:
            if secret in text:
                report.fail(NAMES[5], f"secret in: {text[:80]}")
    for name in NAMES[:5]:
        report.violations.pop(name, None)
    REPORTS.append(report)
    assert len(SEEN) > 50
    report.assert_ok()
