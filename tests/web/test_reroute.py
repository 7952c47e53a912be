"""Re-routing a parked, held or linked deal from the console, over an agency CRM in memory.

The console writes the target partner's routing option to the agency deal's routing
field through the agency CRM the daemon holds, audits it as ``console:NAME``, and
queues the deal for the next pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlmodel import select

from bridge.channels.tables import ChannelFlagRow
from bridge.model import Deal, Money
from bridge.sandbox.memory import MemoryCrm
from bridge.store.db import Store
from bridge.store.tables import AuditRow, HintRow
from sync.runtime.serve import ServerThread
from tests.engine.world import AGENCY_PIPELINE, ROUTING
from tests.web.conftest import Site, build_app, csrf_of
from tests.web.seed import NOW, web_context

ALFA, BETA = "opt-amo", "opt-b24"  # the routing options of alfa and beta in the test mapping


def _agency() -> MemoryCrm:
    crm = MemoryCrm("bitrix24:agency", [AGENCY_PIPELINE])
    for deal_id, routed in (("1002", (ALFA,)), ("2003", (BETA, "opt-other")), ("1001", (ALFA,))):
        crm.deals[deal_id] = Deal(
            id=deal_id,
            title=f"Сделка {deal_id}",
            pipeline_id="7",
            stage_id="C7:WORK",
            amount=Money(Decimal("300000"), "RUB"),
            created_at=NOW - dt.timedelta(days=3),
            updated_at=NOW - dt.timedelta(days=1),
            fields={ROUTING: routed},
        )
    return crm


@pytest.fixture
def routed(web_store: Store) -> Iterator[tuple[Site, MemoryCrm]]:
    crm = _agency()
    ctx = web_context(web_store)
    ctx.agency_crm = lambda: crm
    app = build_app(ctx)
    with ServerThread(app) as running:
        yield Site(running.url, ctx, app), crm


def _reroute(site: Site, page: str, deal: str, source: str, target: str, back: str) -> str:
    http = site.console("Ольга")
    csrf = csrf_of(http.get(f"{site.url}{page}", timeout=10).text)
    answer = http.post(
        f"{site.url}/console/deals/{deal}/reroute",
        data={"csrf": csrf, "from": source, "partner": target, "back": back},
        timeout=10,
    )
    assert answer.status_code == 200
    return answer.text


def _audit(site: Site, deal: str) -> list[AuditRow]:
    with site.ctx.store.transaction() as db:
        return list(
            db.exec(
                select(AuditRow).where(
                    AuditRow.action == "console.reroute", AuditRow.agency_deal_id == deal
                )
            )
        )


def _hints(site: Site, deal: str) -> list[HintRow]:
    with site.ctx.store.transaction() as db:
        return list(db.exec(select(HintRow).where(HintRow.deal_id == deal)))


def test_parked_page_offers_re_route_and_it_writes_the_routing_field(
    routed: tuple[Site, MemoryCrm],
) -> None:
    site, crm = routed
    page = site.console().get(f"{site.url}/console/parked", timeout=10).text
    assert 'action="/console/deals/1002/reroute"' in page
    text = _reroute(site, "/console/parked", "1002", "alfa", "beta", "parked")
    assert "Сделка перенаправлена" in text
    assert crm.deals["1002"].fields[ROUTING] == (BETA,)
    assert crm.calls["update_deals"] == 1
    rows = _audit(site, "1002")
    assert len(rows) == 1 and rows[0].changed_by == "console"
    assert "console:Ольга" in (rows[0].detail or "") and "alfa to beta" in (rows[0].detail or "")
    hints = _hints(site, "1002")
    assert [(h.system, h.source) for h in hints] == [("bitrix24:agency", "reroute")]


def test_a_held_deal_keeps_its_other_routes_and_is_released(
    routed: tuple[Site, MemoryCrm],
) -> None:
    site, crm = routed
    text = _reroute(site, "/console/parked", "2003", "beta", "alfa", "parked")
    assert "Сделка перенаправлена" in text
    assert crm.deals["2003"].fields[ROUTING] == ("opt-other", ALFA)
    with site.ctx.store.transaction() as db:
        flag = db.exec(select(ChannelFlagRow)).one()
    assert not flag.held and "re-routed to alfa by console:Ольга" in (flag.detail or "")
    assert _audit(site, "2003") and _hints(site, "2003")


def test_the_deal_page_offers_re_route_and_comes_back_to_the_deal(
    routed: tuple[Site, MemoryCrm],
) -> None:
    site, crm = routed
    page = site.console().get(f"{site.url}/console/deals/1001", timeout=10).text
    assert 'action="/console/deals/1001/reroute"' in page
    text = _reroute(site, "/console/deals/1001", "1001", "alfa", "beta", "deal")
    assert "Следующий проход закроет старую связь" in text and "№ 1001" in text
    assert crm.deals["1001"].fields[ROUTING] == (BETA,)


@pytest.mark.parametrize(
    ("deal", "source", "target", "problem"),
    [
        ("1002", "alfa", "alfa", "Выберите другого партнёра"),
        ("1002", "alfa", "gamma", "Выберите другого партнёра"),
        ("1002", "beta", "alfa", "Связь уже закрыта"),  # beta has no link on 1002
    ],
)
def test_a_refused_re_route_changes_nothing(
    routed: tuple[Site, MemoryCrm], deal: str, source: str, target: str, problem: str
) -> None:
    site, crm = routed
    text = _reroute(site, "/console/parked", deal, source, target, "parked")
    assert problem in text
    assert crm.calls["update_deals"] == 0 and not _audit(site, deal) and not _hints(site, deal)


def test_a_deal_gone_from_the_crm_leaves_no_audit_and_no_hint(
    routed: tuple[Site, MemoryCrm],
) -> None:
    site, crm = routed
    del crm.deals["1002"]  # gone from Bitrix24: nothing to write to
    text = _reroute(site, "/console/parked", "1002", "alfa", "beta", "parked")
    assert "Сделки нет в CRM агентства" in text
    assert not _audit(site, "1002") and not _hints(site, "1002")


def test_without_the_agency_crm_there_is_no_re_route_button(site: Site) -> None:
    page = site.console().get(f"{site.url}/console/parked", timeout=10).text
    assert "/reroute" not in page
    text = _reroute(site, "/console/parked", "1002", "alfa", "beta", "parked")
    assert "Агентская CRM сейчас недоступна" in text


def test_re_route_needs_its_csrf_token(routed: tuple[Site, MemoryCrm]) -> None:
    site, crm = routed
    http = site.console()
    for data in ({}, {"csrf": "forged"}):
        answer = http.post(
            f"{site.url}/console/deals/1002/reroute",
            data={**data, "from": "alfa", "partner": "beta"},
            timeout=10,
        )
        assert answer.status_code == 403
    assert crm.calls["update_deals"] == 0 and not _audit(site, "1002")


def test_the_daemon_hands_its_own_agency_crm_to_the_web(web_store: Store) -> None:
    from sync.web.wiring import web_context as daemon_web_context

    crm = _agency()
    daemon = SimpleNamespace(
        store=web_store,
        settings=SimpleNamespace(
            admin_token=None, secret_key=None, mapping_path=None, public_url=None
        ),
        clock=lambda: NOW,
        watcher=None,
        crms=lambda: {"agency": crm},
    )
    ctx = daemon_web_context(daemon)  # type: ignore[arg-type]
    assert ctx.agency_crm() is crm  # the same adapter, not a second connection
