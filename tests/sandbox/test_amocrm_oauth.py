"""OAuth in the amoCRM sandbox: consent redirect, code exchange, rotation, expiry."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.emulator import SimClock

REDIRECT = "https://bridge.example/oauth/amocrm"


@pytest.fixture
def amo() -> Iterator[AmoSandbox]:
    with AmoSandbox(
        rate_limit=None, redirect_uri=REDIRECT, access_token_ttl=600, clock=SimClock()
    ) as s:
        yield s


def _grant(amo: AmoSandbox, **fields: str) -> requests.Response:
    body = {
        "client_id": amo.client_id,
        "client_secret": amo.client_secret,
        "redirect_uri": REDIRECT,
    }
    body.update(fields)
    return requests.post(f"{amo.base_url}/oauth2/access_token", json=body, timeout=5)


def _leads(amo: AmoSandbox, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(f"{amo.base_url}/api/v4/leads", headers=headers, timeout=5).status_code


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_consent_page_redirects_with_code_state_and_referer(amo: AmoSandbox) -> None:
    reply = requests.get(
        amo.consent_url(state="xyz", redirect_uri=REDIRECT), allow_redirects=False, timeout=5
    )
    assert reply.status_code == 302
    location = urlsplit(reply.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["state"] == "xyz" and params["referer"] == "partner.amocrm.ru"
    tokens = _grant(amo, grant_type="authorization_code", code=params["code"])
    assert tokens.status_code == 200
    body = tokens.json()
    assert set(body) == {"token_type", "expires_in", "server_time", "access_token", "refresh_token"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert _claims(body["access_token"])["exp"] == body["server_time"] + 600
    assert _leads(amo, body["access_token"]) == 204
    again = _grant(amo, grant_type="authorization_code", code=params["code"])
    assert again.status_code == 400  # a code is single-use


def test_code_exchange_accepts_a_form_body(amo: AmoSandbox) -> None:
    code = amo.authorize(redirect_uri=REDIRECT, state="s")
    form = {
        "client_id": amo.client_id,
        "client_secret": amo.client_secret,
        "redirect_uri": REDIRECT,
        "grant_type": "authorization_code",
        "code": code,
    }
    reply = requests.post(f"{amo.base_url}/oauth2/access_token", data=form, timeout=5)
    assert reply.status_code == 200 and reply.json()["refresh_token"]


def test_refresh_tokens_rotate_and_are_single_use(amo: AmoSandbox) -> None:
    _, refresh = amo.issue_tokens()
    first = _grant(amo, grant_type="refresh_token", refresh_token=refresh)
    assert first.status_code == 200 and amo.refresh_grants == 1
    assert first.json()["refresh_token"] != refresh
    replay = _grant(amo, grant_type="refresh_token", refresh_token=refresh)
    assert replay.status_code == 401
    assert replay.headers["Content-Type"].startswith("application/problem+json")
    assert replay.json() == {
        "hint": "Token has been revoked",
        "title": "Некорректный запрос",
        "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
        "status": 401,
        "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
    }
    assert amo.refresh_grants == 1
    second = _grant(amo, grant_type="refresh_token", refresh_token=first.json()["refresh_token"])
    assert second.status_code == 200 and amo.refresh_grants == 2


def test_two_racing_refreshers_one_wins(amo: AmoSandbox) -> None:
    _, refresh = amo.issue_tokens()
    with ThreadPoolExecutor(4) as pool:
        replies = list(
            pool.map(
                lambda _: _grant(amo, grant_type="refresh_token", refresh_token=refresh), range(4)
            )
        )
    assert sorted(r.status_code for r in replies) == [200, 401, 401, 401]
    assert amo.refresh_grants == 1


def test_access_tokens_expire_by_the_sandbox_clock(amo: AmoSandbox) -> None:
    access, _ = amo.issue_tokens()
    assert _leads(amo, access) == 204
    amo.clock.advance(601)
    reply = requests.get(
        f"{amo.base_url}/api/v4/leads", headers={"Authorization": f"Bearer {access}"}, timeout=5
    )
    assert reply.status_code == 401
    assert reply.json()["detail"] == "Invalid user name or password"
    assert _leads(amo, amo.long_lived_token) == 204  # long-lived tokens have no such expiry


def test_bad_client_and_redirect_are_refused(amo: AmoSandbox) -> None:
    _, refresh = amo.issue_tokens()
    wrong_secret = _grant(
        amo, grant_type="refresh_token", refresh_token=refresh, client_secret="nope"
    )
    assert wrong_secret.status_code == 401 and wrong_secret.json()["title"] == "Некорректный клиент"
    wrong_uri = _grant(
        amo, grant_type="refresh_token", refresh_token=refresh, redirect_uri="https://evil.example"
    )
    assert wrong_uri.status_code == 400
    assert _grant(amo, grant_type="refresh_token", refresh_token=refresh).status_code == 200


def test_missing_or_malformed_authorization_is_401(amo: AmoSandbox) -> None:
    for headers in ({}, {"Authorization": amo.long_lived_token}, {"Authorization": "Bearer "}):
        assert (
            requests.get(f"{amo.base_url}/api/v4/account", headers=headers, timeout=5).status_code
            == 401
        )
