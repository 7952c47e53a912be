"""Currencies through the real sync path (memory sandboxes): a partner keeps its own
currency, the agency reports in its own, every conversion is at a rate the admin entered.

Worked figures (docs/money.md, "Currencies"):

* a KZT dealer wins 4 600 000 KZT; 1 USD = 460 KZT → the agency deal shows 10 000 USD,
  25 % → 2 500 USD commission; the entry records 460, its date and 4 600 000 KZT;
* a USD agency hands 10 000 USD over to a RUB amoCRM account at 92.50 → 925 000 RUB;
* without a rate the deal parks naming the missing rate; ``set_rate`` (what
  ``bridge rates set`` runs) → it goes out on the next pass with no edit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

from typer.testing import CliRunner

from bridge.fx.rates import Rate
from bridge.ledger import book
from bridge.ledger.entries import EntryKind
from bridge.ledger.html import to_html
from bridge.ledger.locale import Texts
from bridge.ledger.render import to_csv
from bridge.ledger.statement import Period, build_statement
from bridge.mapping.compiled import Commission, CommissionRule, RuleKind, Side
from bridge.model import LinkStatus, Money
from bridge.store import links
from sync.cli.ledger_entries import as_dicts
from sync.cli.main import app
from sync.rates import set_rate
from tests.engine.world import ROUTING, T0, World

DEAL_DAY = T0.date()  # 2026-11-24: the agency deals below are created that day


def _currencies(world: World, partner_currency: str) -> None:
    """The agency in USD; partner ``amo`` keeps ``partner_currency``; commission in USD."""
    agency = dataclasses.replace(world.mapping.agency, currency="USD")
    rule = CommissionRule(RuleKind.PERCENT_OF_AMOUNT, Decimal("0.25"), Side.PARTNER, "USD")
    amo = dataclasses.replace(
        world.mapping.partners["amo"],
        currency=partner_currency,
        commission=Commission(rules=(rule,)),
    )
    partners = {**world.mapping.partners, "amo": amo}
    world.mapping = dataclasses.replace(world.mapping, agency=agency, partners=partners)


def _usd_deal(world: World, amount: str) -> str:
    deal = world.agency.seed(
        title="Поставка серверов",
        pipeline_id="7",
        stage_id="C7:NEW",
        amount=Money(Decimal(amount), "USD"),
        fields={ROUTING: ("opt-amo",)},
    )
    assert deal.created_at.date() == DEAL_DAY
    return deal.id


def _rate(world: World, base: str, quote: str, rate: str, day: dt.date) -> list[int]:
    _, queued = set_rate(world.store, Rate(base, quote, Decimal(rate), day), "test", T0)
    return queued


def test_a_kzt_dealer_win_books_usd_at_the_entered_rate(world: World) -> None:
    _currencies(world, "KZT")
    _rate(world, "USD", "KZT", "460", dt.date(2026, 11, 1))
    deal_id = _usd_deal(world, "12000")
    engine = world.engine()
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    assert partner_deal.amount == Money(Decimal("5520000"), "KZT")  # 12 000 × 460

    world.amo.user_edit(partner_deal.id, stage_id="142", amount=Money(Decimal("4600000"), "KZT"))
    engine.sync()
    assert world.agency.deals[deal_id].amount == Money(Decimal("10000"), "USD")
    with world.store.transaction() as session:
        (entry,) = book.read(session, partner="amo", deal_id=deal_id)
    assert (entry.kind, entry.amount, entry.currency) == (
        EntryKind.ACCRUAL,
        Decimal("2500.00"),
        "USD",
    )
    assert entry.base == Decimal("10000")
    assert entry.fx is not None
    assert entry.fx.rate == Decimal("460") and entry.fx.rate_text == "1 USD = 460 KZT"
    assert entry.fx.effective == dt.date(2026, 11, 1)
    assert entry.fx.source == Money(Decimal("4600000"), "KZT")
    assert entry.fx.exact == Decimal("10000")

    # the statement shows both amounts and the rate (HTML, the PDF's source, and CSV)
    statement = build_statement([entry], "amo", Period.parse("2026-11"), T0 + dt.timedelta(days=1))
    html = to_html(statement, Texts("en"))
    assert "KZT4,600,000.00 at 1 USD = 460 KZT of 1 Nov 2026 → $10,000.00" in html
    assert "$2,500.00" in html
    ru = to_html(statement, Texts("ru"))
    assert "по курсу 1 USD = 460 KZT на 01.11.2026" in ru
    row = to_csv(statement).splitlines()[2].split(",")
    assert row[-6:] == ["460", "USD/KZT", "2026-11-01", "4600000", "KZT", "10000"]
    (exported,) = as_dicts([(1, entry)])  # bridge ledger entries / export (csv, xlsx, json)
    assert (exported["amount"], exported["currency"], exported["fx_rate"]) == (
        Decimal("2500.00"),
        "USD",
        Decimal(460),
    )
    assert (exported["fx_source"], exported["fx_source_currency"]) == (Decimal(4600000), "KZT")


def test_a_usd_agency_hands_over_to_a_rub_amocrm_account_at_92_50(world: World) -> None:
    _currencies(world, "RUB")
    _rate(world, "USD", "RUB", "92.50", dt.date(2026, 11, 20))
    _rate(world, "USD", "RUB", "95", dt.date(2026, 11, 25))  # after the deal's day: not used
    _usd_deal(world, "10000")
    engine = world.engine()
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    assert partner_deal.amount == Money(Decimal("925000"), "RUB")
    writes = world.writes()
    engine.sync()  # our own write read back converts to the same USD: no ping-pong
    assert world.writes() == writes


def test_a_missing_rate_parks_naming_it_then_setting_it_sends_the_deal(world: World) -> None:
    _currencies(world, "KZT")
    _rate(world, "USD", "KZT", "455", dt.date(2026, 11, 30))  # only after the deal's day
    deal_id = _usd_deal(world, "10000")
    engine = world.engine()
    engine.sync()
    assert world.amo.deals == {}
    with world.store.transaction() as session:
        (parked,) = links.parked_links(session)
    reason = parked.state.park_reason or ""
    assert "no USD→KZT rate on or before 2026-11-24" in reason
    assert "bridge rates set USD KZT <rate> --date 2026-11-24" in reason

    assert _rate(world, "USD", "KZT", "460", DEAL_DAY) == [parked.id]
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    assert partner_deal.amount == Money(Decimal("4600000"), "KZT")
    with world.store.transaction() as session:
        (state,) = links.states(session, [deal_id])
    assert state.status is LinkStatus.ACTIVE


def test_bridge_rates_set_queues_the_parked_deal_and_rates_list_shows_who(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    _currencies(world, "KZT")
    _usd_deal(world, "10000")
    engine = world.engine()
    engine.sync()
    assert world.amo.deals == {}
    url = str(world.store.engine.url)
    runner = CliRunner(env={"COLUMNS": "200"})
    args = ["rates", "set", "USD", "KZT", "460", "--date", "2026-11-24", "--by", "Анна"]
    done = runner.invoke(app, [*args, "--db-url", url])
    assert done.exit_code == 0, done.output
    assert "rate set: 1 USD = 460 KZT from 2026-11-24" in done.output
    assert "queued 1 link(s) parked for this rate" in done.output
    listed = runner.invoke(app, ["rates", "list", "--format", "json", "--db-url", url])
    (row,) = json.loads(listed.output)
    assert (row["base"], row["quote"], row["rate"], row["entered_by"]) == (
        "USD",
        "KZT",
        "460",
        "cli:Анна",
    )
    # the command queued the retry at the wall clock's now; the world's clock catches up
    world.clock.advance((dt.datetime.now(dt.UTC) - world.clock.now()).total_seconds() + 1)
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    assert partner_deal.amount == Money(Decimal("4600000"), "KZT")


def test_a_rate_kept_in_mapping_yaml_converts_and_one_entered_for_that_day_wins(
    world: World,
) -> None:
    _currencies(world, "RUB")
    kept = Rate("USD", "RUB", Decimal(90), DEAL_DAY, "mapping.yaml")
    world.mapping = dataclasses.replace(world.mapping, rates=(kept,))
    _usd_deal(world, "10000")
    engine = world.engine()
    engine.sync()
    assert [d.amount for d in world.amo.deals.values()] == [Money(Decimal(900000), "RUB")]
    _rate(world, "USD", "RUB", "92.50", DEAL_DAY)
    _usd_deal(world, "20000")
    engine.sync()
    amounts = sorted(d.amount.amount for d in world.amo.deals.values() if d.amount)
    # the first deal did not change, so nothing re-converts it: it keeps 900 000 RUB
    assert amounts == [Decimal(900000), Decimal(1850000)]
