"""Partner isolation, link checks, CSRF and secrets, over every route of the app.

``ROUTES`` lists every route the app has, each with the requests that try to
reach beta's data from alfa's cabinet session. The first test fails when the
app gains a route this table does not know: a new route must say how it keeps
partners apart before it can ship.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import pytest
import requests
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlmodel import select
from starlette.routing import BaseRoute, Mount, Route

from bridge.cabinet.signing import CabinetGrant, sign
from bridge.cabinet.tables import PayoutRequestRow
from bridge.channels.tables import ChannelFlagRow
from bridge.ledger.tables import LedgerEntryRow
from bridge.store.tables import LinkRow
from tests.web.conftest import Site, csrf_of
from tests.web.seed import ADMIN, NOW

BETA_MARKS = ("БЕТА", "BETA", "77 777,77", "77777.77", "5 555,55", "B-701", "B-702")

# (method, path template) → request paths to try with alfa's session ({ids} filled in).
ROUTES: dict[tuple[str, str], list[str]] = {
    ("GET", "/"): ["/"],
    ("GET", "/openapi.json"): ["/openapi.json"],
    ("GET", "/favicon.ico"): ["/favicon.ico"],
    ("POST", "/hooks/bitrix24"): ["/hooks/bitrix24"],
    ("POST", "/hooks/bitrix24/{partner}"): ["/hooks/bitrix24/beta"],
    ("POST", "/hooks/amocrm/{partner}/{secret}"): ["/hooks/amocrm/beta/x"],
    ("GET", "/oauth/amocrm/callback"): ["/oauth/amocrm/callback"],
    ("GET", "/healthz"): ["/healthz"],
    ("GET", "/readyz"): ["/readyz"],
    ("GET", "/metrics"): ["/metrics"],
    ("GET", "/console/login"): ["/console/login"],
    ("POST", "/console/login"): ["/console/login"],
    ("POST", "/console/logout"): ["/console/logout"],
    ("GET", "/console/"): ["/console/"],
    ("GET", "/console/deals"): ["/console/deals?q=БЕТА&partner=beta"],
    ("GET", "/console/deals/{agency_deal_id}"): ["/console/deals/2001"],
    ("GET", "/console/parked"): ["/console/parked"],
    ("POST", "/console/deals/{agency_deal_id}/reroute"): ["/console/deals/2002/reroute"],
    ("POST", "/console/parked/{link_id}/retry"): ["/console/parked/{beta_link}/retry"],
    ("POST", "/console/parked/{link_id}/unlink"): ["/console/parked/{beta_link}/unlink"],
    ("POST", "/console/held/{flag_id}/confirm"): ["/console/held/{beta_flag}/confirm"],
    ("GET", "/console/kpi"): ["/console/kpi"],
    ("GET", "/console/mapping"): ["/console/mapping"],
    ("GET", "/console/ledger"): ["/console/ledger?partner=beta"],
    ("POST", "/console/ledger/payout"): ["/console/ledger/payout"],
    ("POST", "/console/ledger/entries/{entry_id}/void"): [
        "/console/ledger/entries/{beta_entry}/void"
    ],
    ("GET", "/console/ledger/statement"): ["/console/ledger/statement?partner=beta&period=2026-11"],
    ("GET", "/console/ledger/requests/{request_id}/invoice"): [
        "/console/ledger/requests/{beta_request}/invoice"
    ],
    ("GET", "/console/cabinets"): ["/console/cabinets"],
    ("POST", "/console/cabinets/{partner}/link"): ["/console/cabinets/beta/link"],
    ("POST", "/console/cabinets/{partner}/revoke"): ["/console/cabinets/beta/revoke"],
    ("GET", "/p/enter/{token}"): ["/p/enter/{beta_token_tampered}"],
    ("GET", "/p/"): ["/p/?partner=beta", "/p/?p=beta&partner_code=beta"],
    ("GET", "/p/statement"): [
        "/p/statement?period=2026-11&partner=beta",
        "/p/statement?period=2026-11&format=pdf&partner=beta",
    ],
    ("POST", "/p/payout"): ["/p/payout?partner=beta"],
    ("GET", "/p/requests/{request_id}/invoice"): ["/p/requests/{beta_request}/invoice"],
    ("POST", "/p/logout"): [],  # ends alfa's own session; exercised last in its own test
    ("GET", "/web/static"): ["/web/static/style.css"],
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, through included routers and mounts."""
    return {r for r in _walk(app.routes, "") if r[0] != "HEAD"}


def _walk(routes: Sequence[BaseRoute], prefix: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):
            found.add(("GET", prefix + route.path))
        elif isinstance(route, APIRoute | Route):
            found |= {(m, prefix + route.path) for m in route.methods or ()}
        elif hasattr(route, "original_router") and hasattr(route, "include_context"):
            # FastAPI's included-router route is private (fastapi.routing._IncludedRouter).
            inner = getattr(route.include_context, "prefix", "")
            found |= _walk(route.original_router.routes, prefix + inner)
        else:
            raise AssertionError(f"a route of unknown kind: {route!r}; teach this test about it")
    return found


def _ids(site: Site) -> dict[str, str]:
    with site.ctx.store.transaction() as db:
        link = db.exec(select(LinkRow).where(LinkRow.agency_deal_id == "2002")).one()
        flag = db.exec(select(ChannelFlagRow)).one()
        entry = db.exec(select(LedgerEntryRow).where(LedgerEntryRow.cause == "beta-won")).one()
        request = db.exec(
            select(PayoutRequestRow).where(PayoutRequestRow.partner_code == "beta")
        ).one()
    good = site.link("beta").rsplit("/", 1)[1]
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    return {
        "beta_link": str(link.id),
        "beta_flag": str(flag.id),
        "beta_entry": str(entry.id),
        "beta_request": str(request.id),
        "beta_token_tampered": tampered,
    }


def test_the_table_knows_every_route_of_the_app(site: Site) -> None:
    assert app_routes(site.app) == set(ROUTES), (
        "routes without an isolation case: add them to ROUTES with what they must refuse"
    )


def _leaks(response: requests.Response) -> list[str]:
    text = response.content.decode("utf-8", "replace")
    return [m for m in BETA_MARKS if m in text]


def test_alfa_session_reaches_nothing_of_beta_anywhere(site: Site) -> None:
    http = site.cabinet("alfa")
    csrf = csrf_of(http.get(f"{site.url}/p/", timeout=10).text)
    ids = _ids(site)
    tried = 0
    for (method, _), paths in ROUTES.items():
        for template in paths:
            url = site.url + template.format(**ids)
            if method == "GET":
                answer = http.get(url, timeout=30)
            else:
                files = {"invoice": ("x.pdf", b"%PDF-1.4 alfa", "application/pdf")}
                answer = http.post(
                    url, data={"csrf": csrf, "amount": "1.00"}, files=files, timeout=30
                )
            tried += 1
            assert not _leaks(answer), (method, url, _leaks(answer))
            if template.startswith("/console/") and template != "/console/login":
                assert answer.status_code in (403, 401) or "/console/login" in answer.url, url
    with site.ctx.store.transaction() as db:  # nothing of beta's changed either
        assert (
            db.exec(select(LinkRow).where(LinkRow.agency_deal_id == "2002")).one().status
            == "parked"
        )
        assert db.exec(select(ChannelFlagRow)).one().confirmed_at is None
        assert not db.exec(
            select(LedgerEntryRow).where(LedgerEntryRow.cause.startswith("void:"))
        ).all()
        beta_requests = db.exec(
            select(PayoutRequestRow).where(PayoutRequestRow.partner_code == "beta")
        ).all()
    assert len(beta_requests) == 1 and beta_requests[0].status == "open"
    assert tried >= len(ROUTES) - 1


def test_alfa_sees_its_own_deals_entries_and_statement(site: Site) -> None:
    http = site.cabinet("alfa")
    home = http.get(f"{site.url}/p/", timeout=10).text
    assert "АЛЬФА-сделка 1001" in home and "A-501" in home and "АЛЬФА-клиент" in home
    statement = http.get(f"{site.url}/p/statement?period=2026-11", timeout=10).text
    assert "АЛЬФА-сделка 1001" in statement
    pdf = http.get(f"{site.url}/p/statement?period=2026-11&format=pdf", timeout=30)
    assert pdf.content.startswith(b"%PDF-")
    invoice = http.get(f"{site.url}/p/requests/{_alfa_request(site)}/invoice", timeout=10)
    assert invoice.content.startswith(b"%PDF-") and b"ALFA" in invoice.content


def _alfa_request(site: Site) -> int:
    with site.ctx.store.transaction() as db:
        row = db.exec(select(PayoutRequestRow).where(PayoutRequestRow.partner_code == "alfa")).one()
    assert row.id is not None
    return row.id


@pytest.mark.parametrize("problem", ["tampered", "expired", "revoked", "unknown partner"])
def test_bad_links_get_a_friendly_403(site: Site, problem: str) -> None:
    good = site.link("alfa")
    assert site.ctx.key is not None
    if problem == "tampered":
        url = good.replace("/p/enter/", "/p/enter/x")
    elif problem == "expired":
        token = sign(CabinetGrant("alfa", 1, NOW - dt.timedelta(seconds=1)), site.ctx.key)
        url = f"{site.url}/p/enter/{token}"
    elif problem == "unknown partner":
        token = sign(CabinetGrant("gamma", 1, NOW + dt.timedelta(days=1)), site.ctx.key)
        url = f"{site.url}/p/enter/{token}"
    else:
        http = site.cabinet("alfa")  # a session opened before the revoke ends with it
        admin = site.console()
        csrf = csrf_of(admin.get(f"{site.url}/console/cabinets", timeout=10).text)
        admin.post(f"{site.url}/console/cabinets/alfa/revoke", data={"csrf": csrf}, timeout=10)
        assert http.get(f"{site.url}/p/", timeout=10).status_code == 403
        url = good
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 403
    assert "Доступ закрыт" in answer.text and "Traceback" not in answer.text
    assert "pb_cabinet" not in answer.headers.get("set-cookie", "")


def test_revoke_from_the_console_is_audited_and_needs_its_form(site: Site) -> None:
    http = site.console("Вера")
    page = http.get(f"{site.url}/console/cabinets", timeout=10)
    csrf = csrf_of(page.text)
    http.post(f"{site.url}/console/cabinets/alfa/revoke", data={"csrf": csrf}, timeout=10)
    from bridge.store.tables import AuditRow

    with site.ctx.store.transaction() as db:
        rows = db.exec(select(AuditRow).where(AuditRow.action == "console.cabinet_revoke")).all()
    assert rows and "console:Вера" in (rows[0].detail or "")


def test_every_post_without_a_valid_csrf_token_is_403(site: Site) -> None:
    console = site.console()
    cabinet = site.cabinet("alfa")
    ids = _ids(site)
    posts = [
        (method, template)
        for (method, template) in ROUTES
        if method == "POST" and not template.startswith(("/hooks/",))
    ]
    assert len(posts) >= 10
    for _, template in posts:
        http = cabinet if template.startswith("/p/") else console
        path = template.format(
            link_id=ids["beta_link"],
            flag_id=ids["beta_flag"],
            entry_id=ids["beta_entry"],
            partner="alfa",
            request_id=ids["beta_request"],
            agency_deal_id="2002",
        )
        for data in ({}, {"csrf": "forged"}):
            answer = http.post(
                f"{site.url}{path}", data={**data, "token": ADMIN, "reason": "x"}, timeout=10
            )
            assert answer.status_code == 403, (path, data, answer.status_code)


def test_no_secret_in_any_page_or_header(site: Site) -> None:
    assert site.ctx.key is not None
    secrets = [ADMIN, site.ctx.key.hex(), "agency.example.invalid"]
    http = site.console()
    cabinet = site.cabinet("alfa")
    pages = [
        (http, p)
        for p in (
            "/console/",
            "/console/deals",
            "/console/deals/1001",
            "/console/parked",
            "/console/ledger",
            "/console/kpi",
            "/console/mapping",
            "/console/cabinets",
            "/console/login",
        )
    ] + [(cabinet, "/p/"), (cabinet, "/p/statement")]
    for session, path in pages:
        answer = session.get(f"{site.url}{path}", timeout=10)
        blob = answer.text + " ".join(f"{k}: {v}" for k, v in answer.headers.items())
        for secret in secrets:
            assert secret not in blob, (path, secret[:6])
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"


def test_session_cookies_are_httponly_and_strict(site: Site) -> None:
    http = requests.Session()
    form = http.get(f"{site.url}/console/login", timeout=10)
    answer = http.post(
        f"{site.url}/console/login",
        data={"csrf": csrf_of(form.text), "token": ADMIN, "name": "x"},
        allow_redirects=False,
        timeout=10,
    )
    cookie = answer.headers["set-cookie"]
    assert "pb_console=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    behind_https = requests.get(  # the same cookie helper sets every cookie of the web
        f"{site.url}/console/login", headers={"X-Forwarded-Proto": "https"}, timeout=10
    )
    assert "Secure" in behind_https.headers["set-cookie"]
    assert "Secure" not in cookie
    assert re.search(r"Max-Age=\d+", cookie)


def test_a_session_expires(site: Site) -> None:
    http = site.console()
    site.ctx.clock = lambda: NOW + dt.timedelta(hours=9)
    assert "/console/login" in http.get(f"{site.url}/console/", timeout=10).url


def test_sign_in_waits_after_ten_wrong_tokens(site: Site) -> None:
    http = requests.Session()
    for _ in range(10):
        csrf = csrf_of(http.get(f"{site.url}/console/login", timeout=10).text)
        wrong = http.post(
            f"{site.url}/console/login",
            data={"csrf": csrf, "token": "guess", "name": "x"},
            timeout=10,
        )
        assert wrong.status_code == 401
    csrf = csrf_of(http.get(f"{site.url}/console/login", timeout=10).text)
    right = http.post(
        f"{site.url}/console/login", data={"csrf": csrf, "token": ADMIN, "name": "x"}, timeout=10
    )
    assert right.status_code == 403 and "Слишком много" in right.text


def test_an_oversized_form_is_refused_before_it_is_read(site: Site) -> None:
    http = site.cabinet("alfa")
    csrf = csrf_of(http.get(f"{site.url}/p/", timeout=10).text)
    answer = http.post(
        f"{site.url}/p/payout",
        data={"csrf": csrf, "amount": "1.00"},
        files={"invoice": ("a.pdf", b"%PDF-" + b"0" * (7 * 1024 * 1024), "application/pdf")},
        timeout=30,
    )
    assert answer.status_code == 403 and "слишком большой" in answer.text
