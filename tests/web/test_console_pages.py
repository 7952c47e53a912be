"""Console pages render what the store holds, and their actions are audited."""

from __future__ import annotations

import re
from urllib.parse import quote

import requests
from sqlmodel import select

from bridge.store.tables import AuditRow
from tests.web.conftest import Site, csrf_of

PAGES = [
    "/console/",
    "/console/deals",
    "/console/deals?q=АЛЬФА",
    "/console/deals/1001",
    "/console/parked",
    "/console/ledger",
    "/console/ledger?partner=beta&kind=accrual&period=2026-11",
    "/console/kpi",
    "/console/kpi?period=2026-11",
    "/console/mapping",
    "/console/cabinets",
]


def test_every_console_page_renders(site: Site) -> None:
    http = site.console()
    for path in PAGES:
        for lang in ("ru", "en"):
            page = http.get(f"{site.url}{path}{'&' if '?' in path else '?'}lang={lang}", timeout=10)
            assert page.status_code == 200, (path, page.text[:500])
            assert '<html lang="' + lang in page.text, path


def _audit(site: Site) -> list[AuditRow]:
    with site.ctx.store.transaction() as db:
        return list(db.exec(select(AuditRow).where(AuditRow.changed_by == "console")))


def _post(
    site: Site, http: requests.Session, page: str, action: str, **data: str
) -> requests.Response:
    csrf = csrf_of(http.get(f"{site.url}{page}", timeout=10).text)
    return http.post(f"{site.url}{action}", data={"csrf": csrf, **data}, timeout=10)


def test_sign_in_is_audited_with_the_session_name_and_sign_out_ends_it(site: Site) -> None:
    http = site.console("Анна")
    assert any(
        r.action == "console.sign_in" and "console:Анна" in (r.detail or "") for r in _audit(site)
    )
    _post(site, http, "/console/", "/console/logout")
    again = http.get(f"{site.url}/console/ledger", timeout=10)
    assert "/console/login" in again.url


def test_wrong_token_does_not_sign_in(site: Site) -> None:
    import requests

    http = requests.Session()
    csrf = csrf_of(http.get(f"{site.url}/console/login", timeout=10).text)
    answer = http.post(
        f"{site.url}/console/login", data={"csrf": csrf, "token": "nope", "name": "x"}, timeout=10
    )
    assert answer.status_code == 401
    assert "/console/login" in http.get(f"{site.url}/console/", timeout=10).url


def test_retry_queues_the_parked_deal_and_is_audited(site: Site) -> None:
    from bridge.store.tables import HintRow, LinkRow

    http = site.console("Борис")
    with site.ctx.store.transaction() as db:
        link = db.exec(select(LinkRow).where(LinkRow.agency_deal_id == "1002")).one()
    done = _post(site, http, "/console/parked", f"/console/parked/{link.id}/retry")
    assert done.status_code == 200 and "1002" in done.text
    with site.ctx.store.transaction() as db:
        hints = list(db.exec(select(HintRow)))
    assert [(h.system, h.deal_id, h.source) for h in hints] == [
        ("bitrix24:agency", "1002", "retry")
    ]
    assert any(
        r.action == "console.retry"
        and r.agency_deal_id == "1002"
        and "console:Борис" in (r.detail or "")
        for r in _audit(site)
    )


def test_unlink_closes_the_link_and_confirm_releases_a_held_deal(site: Site) -> None:
    from bridge.channels.tables import ChannelFlagRow
    from bridge.store.tables import LinkRow

    http = site.console()
    with site.ctx.store.transaction() as db:
        link = db.exec(select(LinkRow).where(LinkRow.agency_deal_id == "2002")).one()
        flag = db.exec(select(ChannelFlagRow)).one()
    _post(site, http, "/console/parked", f"/console/parked/{link.id}/unlink")
    _post(site, http, "/console/parked", f"/console/held/{flag.id}/confirm")
    with site.ctx.store.transaction() as db:
        unlinked = db.get(LinkRow, link.id)
        confirmed = db.get(ChannelFlagRow, flag.id)
        assert unlinked is not None and unlinked.status == "closed"
        assert confirmed is not None and confirmed.confirmed_at is not None
    actions = {r.action for r in _audit(site)}
    assert {"console.unlink", "console.confirm_channel"} <= actions


def test_void_appends_a_reversing_entry_and_the_cabinet_shows_the_reason(site: Site) -> None:
    from bridge.ledger import book
    from bridge.ledger.tables import LedgerEntryRow

    http = site.console()
    with site.ctx.store.transaction() as db:
        row = db.exec(select(LedgerEntryRow).where(LedgerEntryRow.cause == "alfa-extra")).one()
        before = db.exec(select(LedgerEntryRow)).all()
    page = _post(
        site,
        http,
        "/console/ledger",
        f"/console/ledger/entries/{row.id}/void",
        reason="ошибка менеджера",
    )
    assert "аннулирована" in page.text
    with site.ctx.store.transaction() as db:
        after = db.exec(select(LedgerEntryRow)).all()
        void = db.exec(select(LedgerEntryRow).where(LedgerEntryRow.cause == f"void:{row.id}")).one()
        assert sum(e.amount for e in book.read(db, partner="alfa")) == sum(
            e.amount
            for e in book.read(db, partner="alfa")
            if e.cause not in ("alfa-extra", f"void:{row.id}")
        )
    assert len(after) == len(before) + 1 and void.amount == -row.amount
    again = _post(
        site, http, "/console/ledger", f"/console/ledger/entries/{row.id}/void", reason="ещё раз"
    )
    assert "already voided" in again.text
    cabinet = site.cabinet("alfa").get(f"{site.url}/p/", timeout=10).text
    assert "аннулировано" in cabinet and "ошибка менеджера" in cabinet
    assert any(
        r.action == "ledger.void" and r.detail and r.detail.startswith("console:Анна:")
        for r in _audit(site)
    )


def test_recording_a_payout_closes_the_partner_request(site: Site) -> None:
    from bridge.cabinet.tables import PayoutRequestRow

    http = site.console()
    with site.ctx.store.transaction() as db:
        request = db.exec(
            select(PayoutRequestRow).where(PayoutRequestRow.partner_code == "alfa")
        ).one()
    done = _post(
        site,
        http,
        "/console/ledger",
        "/console/ledger/payout",
        partner="alfa",
        payer="agency",
        amount="100.00",
        currency="RUB",
        ref="п/п 17",
        request_id=str(request.id),
    )
    assert "Оплата записана" in done.text
    with site.ctx.store.transaction() as db:
        closed = db.get(PayoutRequestRow, request.id)
    assert closed is not None and closed.status == "paid" and closed.payout_ref == "п/п 17"
    cabinet = site.cabinet("alfa").get(f"{site.url}/p/", timeout=10).text
    assert "выплачено" in cabinet


def test_statement_pdf_and_html(site: Site) -> None:
    http = site.console()
    html = http.get(f"{site.url}/console/ledger/statement?partner=alfa&period=2026-11", timeout=10)
    assert html.status_code == 200 and "АЛЬФА-сделка 1001" in html.text
    assert "11 111,11" in html.text.replace("\u00a0", " ").replace("\u202f", " ")
    pdf = http.get(
        f"{site.url}/console/ledger/statement?partner=alfa&period=2026-11&format=pdf", timeout=30
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    empty = http.get(f"{site.url}/console/ledger/statement?partner=alfa&period=2025-01", timeout=10)
    assert "0,00" in empty.text


def test_deal_search_by_ids_title_and_client(site: Site) -> None:
    http = site.console()

    def found(q: str) -> set[str]:
        page = http.get(f"{site.url}/console/deals", params={"q": q}, timeout=10).text
        return set(re.findall(r'href="/console/deals/(\d+)"', page))

    assert found("2001") == {"2001"}
    assert found("B-702") == {"2002"}
    assert found("АЛЬФА-сделка") == {"1001", "1002"}
    assert found("бета2001@example.ru") == {"2001"}
    assert found("+7 900 1002") == {"1002"}
    assert found("нет-такой") == set()
    assert found("%") == set()  # LIKE wildcards are searched for literally


def test_overview_names_a_failing_partner_without_its_secret_url(site: Site) -> None:
    from bridge.store import health
    from tests.web.seed import NOW

    with site.ctx.store.transaction() as db:
        health.success(db, "alfa", NOW)
        health.failure(
            db, "beta", "CrmUnavailable", "GET https://beta.example/rest/1/s3cr3t/ failed: 503", NOW
        )
    page = site.console().get(f"{site.url}/console/", timeout=10).text
    beta = page[page.index('id="partner-beta"') :]
    assert "ошибка" in beta and "CrmUnavailable" in beta and "503" in beta
    assert "s3cr3t" not in page
    alfa = page[page.index('id="partner-alfa"') : page.index('id="partner-beta"')]
    assert "работает" in alfa


def test_the_console_issues_a_cabinet_link_that_opens_the_cabinet(site: Site) -> None:
    import requests

    http = site.console("Галина")
    page = _post(site, http, "/console/cabinets", "/console/cabinets/beta/link", days="5")
    link = re.search(r'id="cabinet-link" readonly value="([^"]+)"', page.text)
    assert link is not None and "/p/enter/" in link.group(1)
    partner = requests.Session()
    assert partner.get(link.group(1), timeout=10).status_code == 200
    assert "БЕТА-сделка 2001" in partner.get(f"{site.url}/p/", timeout=10).text
    assert any(
        r.action == "console.cabinet_link" and "console:Галина" in (r.detail or "")
        for r in _audit(site)
    )


def test_overview_shows_the_agency_rate_budget(site: Site) -> None:
    from sync.web.context import RateBudget

    site.ctx.agency_budget = lambda: RateBudget(0.35, 1234, 2.5)
    page = site.console().get(f"{site.url}/console/?lang=en", timeout=10).text
    budget = page[page.index('id="budget"') :]
    assert "35 %" in budget and "1234" in budget and "2.5" in budget


def test_the_daemon_reads_the_budget_from_the_agency_pacer() -> None:
    from bridge.ratelimit import Pacer
    from sync.web.wiring import agency_budget

    class Http:
        pacer = Pacer(rate=2.0, burst=4, clock=lambda: 0.0)

    class Agency:
        http = Http()
        requests = 3

    Http.pacer.reserve()
    Http.pacer.reserve()
    found = agency_budget({"agency": Agency()})  # type: ignore[dict-item]
    assert found is not None and found.in_use == 0.5 and found.requests == 3
    assert agency_budget({}) is None


def test_kpi_page_shows_groups_and_groups_or_filters_by_them(site: Site) -> None:
    http = site.console()
    plain = http.get(f"{site.url}/console/kpi", timeout=10).text
    assert '<td data-label="Менеджер" class="group-manager">Анна Смирнова</td>' in plain
    assert '<td data-label="Грейд" class="group-grade">—</td>' in plain  # beta has none
    by = http.get(f"{site.url}/console/kpi?by=manager", timeout=10).text
    rows = re.findall(r'<tr><td data-label="Менеджер">([^<]+)</td>', by)
    assert rows == ["Анна Смирнова", "Олег Петров"]
    only = http.get(f"{site.url}/console/kpi?manager=Олег Петров", timeout=10).text
    partners = re.findall(r'<tr><td data-label="Партнёр">([^<]+)</td>', only)
    assert partners == ["Digital Бета"]
    assert '<option value="Олег Петров" selected>' in only


def test_overview_shows_each_partners_groups_and_filters_by_manager(site: Site) -> None:
    http = site.console()
    page = http.get(f"{site.url}/console/", timeout=10).text
    link = f'href="/console/?manager={quote("Анна Смирнова")}">Анна Смирнова</a>'
    assert link in page
    assert 'id="partner-alfa"' in page and 'id="partner-beta"' in page
    own = http.get(f"{site.url}/console/?manager=Олег Петров&lang=en", timeout=10).text
    assert 'id="partner-beta"' in own and 'id="partner-alfa"' not in own
    assert "Manager: <b>Олег Петров</b>" in own
