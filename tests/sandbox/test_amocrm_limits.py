"""Rate limit (7 rps → 429) and the account block (→ 403 until unblocked)."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import formatdate

import pytest

from bridge.sandbox.amocrm.account import AmoSandbox
from tests.sandbox.conftest import AmoApi


@pytest.fixture
def limited() -> Iterator[tuple[AmoSandbox, AmoApi]]:
    with AmoSandbox(rate_limit=7.0) as sandbox:
        sandbox.clock.freeze()  # every request in the same instant: the window never slides
        api = AmoApi(sandbox)
        yield sandbox, api
        api.close()


def _statuses(api: AmoApi, count: int) -> list[int]:
    return [api("GET", "/api/v4/account").status_code for _ in range(count)]


def test_eighth_request_in_a_second_gets_429(limited: tuple[AmoSandbox, AmoApi]) -> None:
    amo, api = limited
    assert _statuses(api, 9) == [200] * 7 + [429, 429]
    amo.clock.advance(1.0)
    assert _statuses(api, 7) == [200] * 7


def test_sliding_window_admits_as_old_requests_age_out(limited: tuple[AmoSandbox, AmoApi]) -> None:
    amo, api = limited
    amo.limits.mode = "window"
    assert _statuses(api, 4) == [200] * 4
    amo.clock.advance(0.5)
    assert _statuses(api, 4) == [200, 200, 200, 429]
    amo.clock.advance(0.5)  # the first four are now a second old
    assert _statuses(api, 5) == [200] * 4 + [429]


def test_sustained_abuse_blocks_the_account_until_unblocked(
    limited: tuple[AmoSandbox, AmoApi],
) -> None:
    amo, api = limited
    amo.limits.block_after = 3
    assert _statuses(api, 11) == [200] * 7 + [429] * 3 + [429]
    assert amo.blocked
    amo.clock.advance(3600)
    blocked = api("GET", "/api/v4/leads")
    assert blocked.status_code == 403
    assert blocked.headers["Content-Type"] == "text/html" and b"403 Forbidden" in blocked.content
    amo.unblock()
    assert _statuses(api, 1) == [200]


def test_refusals_older_than_the_window_do_not_count(limited: tuple[AmoSandbox, AmoApi]) -> None:
    amo, api = limited
    amo.limits.block_after = 3
    amo.limits.block_window = 10.0
    _statuses(api, 10)  # 3 refusals
    amo.clock.advance(11)
    assert _statuses(api, 10) == [200] * 7 + [429] * 3
    assert not amo.blocked


def test_limits_can_be_switched_off() -> None:
    with AmoSandbox(rate_limit=None) as amo:
        amo.clock.freeze()
        api = AmoApi(amo)
        assert set(_statuses(api, 30)) == {200}
        api.close()


def test_token_endpoint_is_outside_the_api_limit(limited: tuple[AmoSandbox, AmoApi]) -> None:
    amo, api = limited
    _statuses(api, 8)
    _, refresh = amo.issue_tokens()
    body = {
        "client_id": amo.client_id,
        "client_secret": amo.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh,
        "redirect_uri": "https://x.example",
    }
    assert api("POST", "/oauth2/access_token", json=body).status_code == 200


def test_date_header_follows_the_sandbox_clock() -> None:
    with AmoSandbox(rate_limit=None) as amo:
        amo.clock.advance(86400 * 3)
        amo.clock.freeze()
        api = AmoApi(amo)
        reply = api("GET", "/api/v4/account")
        api.close()
    assert reply.raw.headers.getlist("Date") == [formatdate(amo.clock.time(), usegmt=True)]


def test_bucket_refills_at_the_rate(limited: tuple[AmoSandbox, AmoApi]) -> None:
    amo, api = limited
    assert _statuses(api, 8) == [200] * 7 + [429]
    amo.clock.advance(1 / 7)
    assert _statuses(api, 2) == [200, 429]


def _paced_with_jitter(amo: AmoSandbox, api: AmoApi, seconds: int) -> list[int]:
    """Requests at exactly 7/s on the sender's side, arriving up to 40 ms early or late."""
    jitter = [0.04, -0.04, 0.0, 0.03, -0.02]
    statuses = []
    previous = 0.0
    for n in range(7 * seconds):
        arrival = n / 7 + jitter[n % len(jitter)] + 0.04
        amo.clock.advance(arrival - previous)
        previous = arrival
        statuses.append(api("GET", "/api/v4/account").status_code)
    return statuses


def test_an_evenly_paced_client_is_never_refused_for_jitter(
    limited: tuple[AmoSandbox, AmoApi],
) -> None:
    amo, api = limited
    assert set(_paced_with_jitter(amo, api, 3)) == {200}


def test_window_mode_is_stricter_about_jitter(limited: tuple[AmoSandbox, AmoApi]) -> None:
    amo, api = limited
    amo.limits.mode = "window"
    assert 429 in _paced_with_jitter(amo, api, 3)
