"""The cabinet shows a partner its own leaderboard place when the programme publishes ratings.

It shows the place, the number of partners and the partner's own won amount — never
another partner's name or figures — and nothing at all when ratings are not published.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from bridge.ledger.tables import LedgerObservationRow
from bridge.mapping.compiled import CompiledMapping
from bridge.store.db import Store
from sync.runtime.serve import ServerThread
from sync.web.ratings import own_position
from tests.web.conftest import Site, build_app
from tests.web.seed import NOW, two_partner_mapping, web_context

ALFA_WON, BETA_WON = "300\u00a0000,00", "777\u00a0000,00"  # as the cabinet formats them
BETA_SIGNS = ("Digital Бета", "БЕТА", "B-701", BETA_WON, "777000", "beta")


def _published(on: bool = True) -> CompiledMapping:
    base = two_partner_mapping()
    return dataclasses.replace(
        base, policies=dataclasses.replace(base.policies, publish_ratings=on)
    )


def _won(store: Store, deal: str, partner: str, amount: str) -> None:
    with store.transaction() as db:
        db.add(
            LedgerObservationRow(
                partner_code=partner,
                agency_deal_id=deal,
                digest=f"won-{deal}-{partner}",
                observed_at=NOW - dt.timedelta(days=1),
                stage="won",
                amount=Decimal(amount),
                amount_currency="RUB",
            )
        )


@pytest.fixture
def rated(web_store: Store) -> Iterator[Site]:
    _won(web_store, "1001", "alfa", "300000")
    _won(web_store, "2001", "beta", "777000")
    ctx = web_context(web_store)
    mapping = _published()
    ctx.mapping = lambda: mapping
    app = build_app(ctx)
    with ServerThread(app) as running:
        yield Site(running.url, ctx, app)


def _rating(site: Site, partner: str, lang: str = "ru") -> str:
    page = site.cabinet(partner).get(f"{site.url}/p/?lang={lang}", timeout=10).text
    start = page.find('id="rating"')
    assert start > 0, "no rating section"
    return page[start : page.index("</section>", start)]


def test_each_partner_sees_its_own_place_and_the_count(rated: Site) -> None:
    alfa = _rating(rated, "alfa")
    assert "место 2 из 2" in alfa and ALFA_WON in alfa
    beta = _rating(rated, "beta")
    assert "место 1 из 2" in beta and BETA_WON in beta and ALFA_WON not in beta
    assert "place 2 of 2" in _rating(rated, "alfa", "en")


def test_alfa_s_cabinet_shows_nothing_of_beta_with_ratings_on(rated: Site) -> None:
    http = rated.cabinet("alfa")
    for path in ("/p/", "/p/?lang=en", "/p/statement?period=2026-11"):
        text = http.get(f"{rated.url}{path}", timeout=10).text
        leaks = [s for s in BETA_SIGNS if s in text]
        assert not leaks, (path, leaks)


def test_no_rating_unless_the_programme_publishes_it(site: Site) -> None:
    page = site.cabinet("alfa").get(f"{site.url}/p/", timeout=10).text
    assert 'id="rating"' not in page and "Место в рейтинге" not in page


def test_own_position_needs_the_policy_and_a_known_partner(web_store: Store) -> None:
    _won(web_store, "1001", "alfa", "300000")
    with web_store.transaction() as db:
        assert own_position(db, _published(False), "alfa", NOW) is None
        assert own_position(db, None, "alfa", NOW) is None
        assert own_position(db, _published(), "gamma", NOW) is None
        place = own_position(db, _published(), "alfa", NOW)
    assert place is not None and (place.place, place.of) == (1, 2)
    assert place.won_amount == Decimal("300000") and place.currency == "RUB"


def _by(kpi: str) -> CompiledMapping:
    base = _published()
    return dataclasses.replace(base, policies=dataclasses.replace(base.policies, ratings_by=kpi))


def test_the_programme_s_kpi_decides_the_place(web_store: Store) -> None:
    """Alfa has more won deals, Beta the larger won amount: the chosen KPI orders them."""
    _won(web_store, "1001", "alfa", "300000")
    _won(web_store, "1002", "alfa", "1000")
    _won(web_store, "2001", "beta", "777000")
    with web_store.transaction() as db:
        by_amount = own_position(db, _published(), "alfa", NOW)
        by_wins = own_position(db, _by("won"), "alfa", NOW)
        beta_by_wins = own_position(db, _by("won"), "beta", NOW)
    assert by_amount is not None and (by_amount.place, by_amount.by) == (2, "won_amount")
    assert by_wins is not None and (by_wins.place, by_wins.of, by_wins.value) == (1, 2, Decimal(2))
    assert beta_by_wins is not None and (beta_by_wins.place, beta_by_wins.value) == (2, Decimal(1))
    assert by_wins.shown_as == "count" and _by("commission").policies.ratings_by == "commission"


def test_the_cabinet_names_the_kpi_and_shows_only_the_own_figure(web_store: Store) -> None:
    _won(web_store, "1001", "alfa", "300000")
    _won(web_store, "1002", "alfa", "1000")
    _won(web_store, "2001", "beta", "777000")
    ctx = web_context(web_store)
    mapping = _by("won")
    ctx.mapping = lambda: mapping
    app = build_app(ctx)
    with ServerThread(app) as running:
        site = Site(running.url, ctx, app)
        alfa = _rating(site, "alfa")
        assert "место 1 из 2" in alfa and "по показателю «выигранные сделки»" in alfa
        assert "Ваш показатель: 2" in alfa and BETA_WON not in alfa
        beta = _rating(site, "beta")
        assert "место 2 из 2" in beta and "Ваш показатель: 1" in beta
        assert "place 1 of 2" in _rating(site, "alfa", "en")
        assert "won deals" in _rating(site, "alfa", "en")
