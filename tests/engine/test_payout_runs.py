"""Tiers, a parent override and payout runs through the real sync path (in-memory CRMs).

Each figure starts as a CRM event — a partner moving its deal to won, the agency
entering its fee — and reaches the ledger through the engine and the ledger hook.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from bridge.ledger import book
from bridge.ledger.entries import Entry, EntryKind
from bridge.mapping.compiled import (
    Commission,
    CommissionRule,
    FieldEnd,
    Override,
    PayoutSchedule,
    RuleKind,
    ScheduleKind,
    Side,
    Target,
    Tier,
    TierBy,
    TierMode,
    TierPeriod,
    Tiers,
)
from bridge.model import Money
from sync.cli import ledger_payouts as runs
from tests.engine.world import World

D = Decimal
FEE = FieldEnd(Target.CUSTOM, "fee", field_id="UF_CRM_FEE")
MARGINAL = Tiers((Tier(D(1_000_000), D("0.10")), Tier(None, D("0.15"))), TierMode.MARGINAL)


def programme(world: World, code: str, commission: Commission) -> None:
    partner = dataclasses.replace(world.mapping.partners[code], commission=commission)
    partners = {**world.mapping.partners, code: partner}
    world.mapping = dataclasses.replace(world.mapping, partners=partners)


def win(world: World, crm_deal_of: str, amount: int) -> None:
    crm = world.amo if crm_deal_of == "amo" else world.b24
    won = "142" if crm_deal_of == "amo" else "WON"
    (deal,) = [d for d in crm.deals.values() if d.stage_id != won]
    crm.user_edit(deal.id, stage_id=won, amount=Money(D(amount), "RUB"))


def entries(world: World, partner: str) -> list[Entry]:
    with world.store.transaction() as session:
        return book.read(session, partner=partner)


def test_a_two_tier_rule_and_a_parent_override_book_from_partner_wins(world: World) -> None:
    tiered = CommissionRule(
        RuleKind.PERCENT_OF_AMOUNT, D("0.10"), Side.PARTNER, "RUB", tiers=MARGINAL
    )
    programme(world, "amo", Commission((tiered,)))
    flat = CommissionRule(RuleKind.PERCENT_OF_AMOUNT, D("0.25"), Side.PARTNER, "RUB")
    five = Override(parent="amo", rate=D("0.05"), of="commission", payer=Side.AGENCY)
    programme(world, "b24", Commission((flat,), override=five))  # b24 was recruited by amo
    world.agency_deal(1, ("amo",))
    world.agency_deal(2, ("b24",))
    engine = world.engine()
    engine.sync()
    win(world, "amo", 1_500_000)
    win(world, "b24", 100_000)
    engine.sync()
    engine.sync()  # a second pass books nothing more
    amo = entries(world, "amo")
    # amo's own win: 10 % × 1 000 000 + 15 % × 500 000 = 175 000.00, amo owes it
    own = [e for e in amo if e.rule == "percent_of_amount"]
    assert [(e.amount, e.payer) for e in own] == [(D("175000.00"), Side.PARTNER)]
    assert own[0].ref and own[0].ref.startswith("marginal: 10% × 1000000 + 15% × 500000")
    # b24 owes 25 % × 100 000 = 25 000.00; its parent amo earns 5 % of it = 1 250.00
    assert [(e.amount, e.payer) for e in entries(world, "b24")] == [(D("25000.00"), Side.PARTNER)]
    over = [e for e in amo if e.rule == "override:b24"]
    assert [(e.kind, e.amount, e.payer) for e in over] == [
        (EntryKind.ACCRUAL, D("1250.00"), Side.AGENCY)
    ]


def test_a_twice_monthly_run_nets_and_records_once(world: World) -> None:
    owes = CommissionRule(RuleKind.PERCENT_OF_AMOUNT, D("0.25"), Side.PARTNER, "RUB")
    due = CommissionRule(RuleKind.PERCENT_OF_FEE, D("0.10"), Side.AGENCY, "RUB", FEE)
    programme(world, "b24", Commission((owes, due)))
    deal = world.agency_deal(3, ("b24",))
    engine = world.engine()
    engine.sync()
    world.agency.user_edit(deal.id, fields={**deal.fields, "UF_CRM_FEE": D("50000")})
    win(world, "b24", 100_000)
    engine.sync()
    schedules: dict[str, PayoutSchedule | None] = {
        "b24": PayoutSchedule(ScheduleKind.TWICE_MONTHLY, days=(1, 15), netting=True)
    }
    day = dt.date(2026, 12, 1)
    run = runs.current_run(world.store, schedules, day)
    (line,) = run.lines
    # b24 owes 25 % × 100 000 = 25 000.00; the agency owes it 10 % × 50 000 = 5 000.00:
    # one net line of 20 000.00, b24 → agency
    assert (line.partner, line.payer, line.amount) == ("b24", Side.PARTNER, D("20000.00"))
    assert (line.partner_owes, line.agency_owes) == (D("25000.00"), D("5000.00"))
    now = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    _, added = runs.record(world.store, schedules, run.run_id, now)
    assert added == 2  # each side's gross, so both directions are settled
    assert runs.record(world.store, schedules, run.run_id, now)[1] == 0  # twice books once
    payouts = [e for e in entries(world, "b24") if e.kind is EntryKind.PAYOUT]
    assert sorted((e.payer, e.amount) for e in payouts) == [
        (Side.AGENCY, D("5000.00")),
        (Side.PARTNER, D("25000.00")),
    ]
    assert runs.current_run(world.store, schedules, day).lines == ()


def test_within_days_counts_from_the_crm_time_of_the_win_not_the_sync(world: World) -> None:
    flat = CommissionRule(RuleKind.PERCENT_OF_AMOUNT, D("0.25"), Side.PARTNER, "RUB")
    programme(world, "amo", Commission((flat,)))
    world.agency_deal(4, ("amo",))
    engine = world.engine()
    engine.sync()
    win(world, "amo", 10_000)
    won_at = world.clock()
    world.clock.advance(2 * 86400)  # the bridge notices two days later
    engine.sync()
    (entry,) = entries(world, "amo")
    assert entry.occurred_at == won_at < world.clock() - dt.timedelta(days=1)
    within = {"amo": PayoutSchedule(ScheduleKind.WITHIN, within_days=3)}
    (line,) = runs.current_run(world.store, within, world.clock().date()).lines
    assert line.deadline == won_at + dt.timedelta(days=3)


def test_a_period_volume_tier_rates_the_second_win_above_the_first(world: World) -> None:
    monthly = dataclasses.replace(MARGINAL, by=TierBy.WON_AMOUNT, period=TierPeriod.MONTH)
    rule = CommissionRule(RuleKind.PERCENT_OF_AMOUNT, D("0.10"), Side.PARTNER, "RUB", tiers=monthly)
    programme(world, "amo", Commission((rule,)))
    world.agency_deal(5, ("amo",))
    engine = world.engine()
    engine.sync()
    win(world, "amo", 700_000)
    engine.sync()
    world.agency_deal(6, ("amo",))
    engine.sync()
    win(world, "amo", 500_000)
    engine.sync()
    engine.sync()
    # first win: 10 % × 700 000 = 70 000.00; the second spans 700 000 → 1 200 000 of the
    # month's volume: 10 % × 300 000 + 15 % × 200 000 = 60 000.00
    assert [e.amount for e in entries(world, "amo")] == [D("70000.00"), D("60000.00")]
