"""amoCRM OAuth against the sandbox: one refresh across processes, revoked grants, onboarding."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from typer.testing import CliRunner

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import OAuthApp, OAuthTokens, SqlTokenStore, StoredTokens
from bridge.amocrm.onboarding import consent_url, new_state
from bridge.crm import AuthError
from bridge.ratelimit import Pacer
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.secrets import Secret
from bridge.store.db import make_engine, migrate
from sync.cli.main import app as cli_app

PARTNER = "romashka"
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-client-secret"
REDIRECT = "https://bridge.example/oauth/amocrm/callback"


@pytest.fixture
def sandbox() -> Iterator[AmoSandbox]:
    with AmoSandbox(seed="demo", rate_limit=None, redirect_uri=REDIRECT) as running:
        yield running


def _app(base_url: str) -> OAuthApp:
    return OAuthApp(PARTNER, base_url, CLIENT_ID, Secret(CLIENT_SECRET), REDIRECT)


def _adapter(base_url: str, tokens: OAuthTokens) -> AmoCrm:
    return AmoCrm(
        base_url, tokens, system=f"amocrm:{PARTNER}", pacer=Pacer(1000, 1000), retry_wait=0.01
    )


def _store_expired_pair(sandbox: AmoSandbox, db_url: str) -> tuple[str, str]:
    """A stored pair whose access token is past its expiry (and dead on the server too)."""
    access, refresh = sandbox.issue_tokens()
    engine = make_engine(db_url)
    migrate(engine)
    now = dt.datetime.now(dt.UTC)
    stale = StoredTokens(
        Secret(access), Secret(refresh), now - dt.timedelta(minutes=1), now - dt.timedelta(days=1)
    )
    SqlTokenStore(engine, PARTNER).save(stale)
    engine.dispose()
    sandbox.oauth.revoke_access()
    return access, refresh


def _worker(db_url: str, base_url: str, barrier: Any, results: Any) -> None:
    """One bridge process: wait for the other, then use the (expired) tokens."""
    engine = make_engine(db_url)
    tokens = OAuthTokens(_app(base_url), SqlTokenStore(engine, PARTNER))
    crm = _adapter(base_url, tokens)
    try:
        barrier.wait(timeout=60)
        names = [p.name for p in crm.pipelines()]
        fields = len(crm.custom_fields())
        results.put(("ok", tokens.refreshes, names, fields))
    except Exception as exc:  # reported to the parent, which fails the test
        results.put(("error", repr(exc), [], 0))
    finally:
        crm.close()
        engine.dispose()


def test_two_processes_refresh_an_expired_token_exactly_once(
    sandbox: AmoSandbox, db_url: str
) -> None:
    _store_expired_pair(sandbox, db_url)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(db_url, sandbox.base_url, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=90) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    assert sandbox.refresh_grants == 1
    assert sorted(o[1] for o in outcomes) == [0, 1], "one process refreshed, the other reused"
    assert all("Партнёрские лиды" in o[2] and o[3] > 0 for o in outcomes)


def test_threads_of_one_process_refresh_once(sandbox: AmoSandbox, db_url: str) -> None:
    _store_expired_pair(sandbox, db_url)
    engine = make_engine(db_url)
    tokens = OAuthTokens(_app(sandbox.base_url), SqlTokenStore(engine, PARTNER))
    crm = _adapter(sandbox.base_url, tokens)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        try:
            start.wait(timeout=10)
            crm.pipelines()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    crm.close()
    engine.dispose()
    assert errors == []
    assert sandbox.refresh_grants == 1
    assert tokens.refreshes == 1


def test_a_401_from_a_pair_rotated_elsewhere_is_resolved_from_the_store(
    sandbox: AmoSandbox, db_url: str
) -> None:
    _store_expired_pair(sandbox, db_url)
    engine = make_engine(db_url)
    first = OAuthTokens(_app(sandbox.base_url), SqlTokenStore(engine, PARTNER))
    second = OAuthTokens(_app(sandbox.base_url), SqlTokenStore(engine, PARTNER))
    crm_a, crm_b = _adapter(sandbox.base_url, first), _adapter(sandbox.base_url, second)
    try:
        crm_a.pipelines()  # refreshes
        crm_b.pipelines()  # its stale pair is replaced by the stored one, no second refresh
    finally:
        crm_a.close()
        crm_b.close()
        engine.dispose()
    assert sandbox.refresh_grants == 1


def test_revoked_refresh_token_stops_only_that_partner_with_advice(
    sandbox: AmoSandbox, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    access, refresh = _store_expired_pair(sandbox, db_url)
    # Someone else spent our refresh token (a restored backup, another installation).
    spent = requests.post(
        f"{sandbox.base_url}/oauth2/access_token",
        json={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "redirect_uri": REDIRECT,
        },
        timeout=10,
    )
    assert spent.status_code == 200
    engine = make_engine(db_url)
    crm = _adapter(
        sandbox.base_url, OAuthTokens(_app(sandbox.base_url), SqlTokenStore(engine, PARTNER))
    )
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(AuthError) as caught:
            crm.pipelines()
    finally:
        crm.close()
        engine.dispose()
    message = str(caught.value)
    assert PARTNER in message and f"bridge auth amocrm {PARTNER}" in message
    for secret in (access, refresh, CLIENT_SECRET, spent.json()["access_token"]):
        assert secret not in message
        assert secret not in repr(caught.value)
        assert secret not in repr(crm)
        assert secret not in caplog.text


def test_onboarding_end_to_end_through_the_cli(sandbox: AmoSandbox, tmp_path: Any) -> None:
    db_url = f"sqlite:///{tmp_path / 'bridge.db'}"
    url = consent_url(_app(sandbox.base_url), state=new_state())
    # The partner's admin opens the page and clicks "Allow"; the sandbox redirects with a code.
    consent = requests.get(url, allow_redirects=False, timeout=10)
    assert consent.status_code == 302
    redirect = urlsplit(consent.headers["Location"])
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == REDIRECT
    code = parse_qs(redirect.query)["code"][0]
    options = [
        "--base-url", sandbox.base_url,
        "--client-id", CLIENT_ID,
        "--client-secret", CLIENT_SECRET,
        "--redirect-uri", REDIRECT,
        "--db-url", db_url,
    ]  # fmt: skip
    result = CliRunner().invoke(cli_app, ["auth", "amocrm", PARTNER, *options, "--code", code])
    assert result.exit_code == 0, result.output
    assert f"Tokens for {PARTNER} stored" in result.output
    assert code not in result.output

    engine = make_engine(db_url)
    crm = _adapter(
        sandbox.base_url, OAuthTokens(_app(sandbox.base_url), SqlTokenStore(engine, PARTNER))
    )
    try:
        assert "Партнёрские лиды" in [p.name for p in crm.pipelines()]
    finally:
        crm.close()
        engine.dispose()
    again = CliRunner().invoke(cli_app, ["auth", "amocrm", PARTNER, *options, "--code", code])
    assert again.exit_code == 1, "a code works once"
    assert f"bridge auth amocrm {PARTNER}" in again.output


def test_cli_without_code_prints_the_consent_link_and_asks(
    sandbox: AmoSandbox, tmp_path: Any
) -> None:
    options = [
        "--base-url", sandbox.base_url,
        "--client-id", CLIENT_ID,
        "--client-secret", CLIENT_SECRET,
        "--redirect-uri", REDIRECT,
        "--db-url", f"sqlite:///{tmp_path / 'bridge.db'}",
    ]  # fmt: skip
    result = CliRunner().invoke(cli_app, ["auth", "amocrm", PARTNER, *options], input="nonsense\n")
    assert f"{sandbox.base_url}/oauth?client_id={CLIENT_ID}" in result.output
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("expires_in", "refreshed_ago", "refreshes"),
    [
        (dt.timedelta(minutes=10), dt.timedelta(hours=23, minutes=50), 1),  # nearly spent
        (dt.timedelta(hours=20), dt.timedelta(days=31), 1),  # idle grant kept alive
        (dt.timedelta(hours=20), dt.timedelta(hours=4), 0),  # nothing to do
    ],
)
def test_refresh_is_proactive_and_keeps_idle_grants_alive(
    sandbox: AmoSandbox,
    tmp_path: Any,
    expires_in: dt.timedelta,
    refreshed_ago: dt.timedelta,
    refreshes: int,
) -> None:
    access, refresh = sandbox.issue_tokens()  # valid on the server: no 401 will prompt us
    engine = make_engine(f"sqlite:///{tmp_path / 'bridge.db'}")
    migrate(engine)
    now = dt.datetime.now(dt.UTC)
    pair = StoredTokens(Secret(access), Secret(refresh), now + expires_in, now - refreshed_ago)
    SqlTokenStore(engine, PARTNER).save(pair)
    crm = _adapter(
        sandbox.base_url, OAuthTokens(_app(sandbox.base_url), SqlTokenStore(engine, PARTNER))
    )
    try:
        crm.pipelines()
        crm.pipelines()
    finally:
        crm.close()
    stored = SqlTokenStore(engine, PARTNER).load()
    engine.dispose()
    assert sandbox.refresh_grants == refreshes
    assert stored is not None and (stored.access != Secret(access)) == bool(refreshes)
    assert stored.expires_at.tzinfo is dt.UTC
