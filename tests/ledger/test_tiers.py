"""Progressive commission and effective dates: the pure rule math, figures written out."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from bridge.ledger.entries import EntryKind
from bridge.ledger.rules import entries_for, rule_names
from bridge.ledger.tiers import Prior, commission, explain, slices
from bridge.ledger.volume import period_start, prior_wins
from bridge.mapping.compiled import CommissionRule, Tier, TierBy, TierMode, TierPeriod, Tiers
from tests.ledger.factories import WON, at, obs, of_amount, of_payments
from tests.ledger.factories import commission as programme

D = Decimal
TEN_THEN_FIFTEEN = (Tier(D(1_000_000), D("0.10")), Tier(None, D("0.15")))


def tiers(
    mode: TierMode, by: TierBy = TierBy.DEAL_AMOUNT, period: TierPeriod | None = None
) -> Tiers:
    return Tiers(TEN_THEN_FIFTEEN, mode, by, period)


def tiered(mode: TierMode, **kw: object) -> CommissionRule:
    return dataclasses.replace(of_amount("0.10"), tiers=tiers(mode), **kw)  # type: ignore[arg-type]


def test_marginal_and_whole_on_a_deal_of_1_500_000() -> None:
    # marginal: 10 % × 1 000 000 + 15 % × 500 000 = 100 000 + 75 000 = 175 000
    assert commission(tiers(TierMode.MARGINAL), D(1_500_000)) == D(175_000)
    # whole: the deal reaches the 15 % tier, so 15 % × 1 500 000 = 225 000
    assert commission(tiers(TierMode.WHOLE), D(1_500_000)) == D(225_000)
    # a bound is inclusive: exactly 1 000 000 stays at 10 % in both modes
    assert commission(tiers(TierMode.MARGINAL), D(1_000_000)) == D(100_000)
    assert commission(tiers(TierMode.WHOLE), D(1_000_000)) == D(100_000)
    assert commission(tiers(TierMode.WHOLE), D("1000000.01")) == D("150000.0015")


def test_a_tiered_rule_books_through_entries_for_with_its_split_explained() -> None:
    history = [obs(0, WON, "1500000.00")]
    (marginal,) = entries_for(history, programme(tiered(TierMode.MARGINAL)), [])
    (whole,) = entries_for(history, programme(tiered(TierMode.WHOLE)), [])
    assert (marginal.kind, marginal.amount) == (EntryKind.ACCRUAL, D("175000.00"))
    assert whole.amount == D("225000.00")
    assert marginal.rate is None  # no single rate; the split is in the entry's text
    assert marginal.ref == "marginal: 10% × 1000000 + 15% × 500000.00 = 175000.0000 → 175000.00 RUB"


def test_a_tier_split_is_rounded_once_half_up_to_the_kopeck() -> None:
    # 10 % × 1 000 000 + 15 % × 0.03 = 100 000.0045 → 100 000.00 (one rounding, half-up)
    (entry,) = entries_for([obs(0, WON, "1000000.03")], programme(tiered(TierMode.MARGINAL)), [])
    assert entry.amount == D("100000.00")
    assert "= 100000.0045 → 100000.00 RUB" in (entry.ref or "")
    # 15 % × 0.10 = 0.015 → 0.02 (half-up), not banker's 0.02/0.01 ambiguity
    (up,) = entries_for([obs(0, WON, "1000000.10")], programme(tiered(TierMode.MARGINAL)), [])
    assert up.amount == D("100000.02")


def test_an_amount_change_while_won_adjusts_to_the_new_tiered_target() -> None:
    rule = tiered(TierMode.MARGINAL)
    history = [obs(0, WON, "800000.00"), obs(1, WON, "1200000.00")]
    entries = entries_for(history, programme(rule), [])
    # 80 000 at the win; then 10 % × 1 000 000 + 15 % × 200 000 = 130 000 → +50 000
    assert [(e.kind, e.amount) for e in entries] == [
        (EntryKind.ACCRUAL, D("80000.00")),
        (EntryKind.ADJUSTMENT, D("50000.00")),
    ]


def test_period_volume_marginal_rates_the_slice_above_what_the_partner_already_won() -> None:
    period = tiers(TierMode.MARGINAL, TierBy.WON_AMOUNT, TierPeriod.QUARTER)
    # 700 000 won earlier this quarter; a 500 000 deal spans 700 000 → 1 200 000:
    # 10 % × 300 000 + 15 % × 200 000 = 30 000 + 30 000 = 60 000
    assert commission(period, D(500_000), Prior(D(700_000), 1)) == D(60_000)
    assert [(s.rate, s.base) for s in slices(period, D(500_000), Prior(D(700_000), 1))] == [
        (D("0.10"), D(300_000)),
        (D("0.15"), D(200_000)),
    ]
    text = explain(period, D(500_000), Prior(D(700_000), 1), D("60000.00"), "RUB")
    assert text.startswith("marginal after 700000 won this quarter: 10% × 300000 + 15% × 200000")


def test_deal_count_whole_gives_the_third_win_and_later_ones_the_higher_percent() -> None:
    count = Tiers((Tier(D(2), D("0.10")), Tier(None, D("0.15"))), TierMode.WHOLE, TierBy.WON_COUNT)
    assert commission(count, D(100_000), Prior(D(0), 1)) == D(10_000)  # the 2nd win
    assert commission(count, D(100_000), Prior(D(0), 2)) == D(15_000)  # the 3rd win


def test_prior_wins_count_only_other_deals_won_inside_the_period_before_the_moment() -> None:
    rule = dataclasses.replace(
        of_amount("0.10"), tiers=tiers(TierMode.MARGINAL, TierBy.WON_AMOUNT, TierPeriod.MONTH)
    )
    start = period_start(TierPeriod.MONTH, at(0))
    assert start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert period_start(TierPeriod.QUARTER, at(0)) == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    histories = {
        "201": [obs(0, WON, "300000", deal="201")],  # won this month: counts
        "202": [obs(-5, WON, "999", deal="202")],  # won 28 October: another month
        "203": [obs(1, WON, "200000", deal="203"), obs(2, WON, "250000", deal="203")],
        "204": [obs(3, WON, "1", deal="204")],  # after the moment: not yet
    }
    prior = prior_wins(histories, rule, at(2.5))
    assert prior == Prior(D(550_000), 2)  # 300 000 + the latest 250 000


def test_period_tiers_without_a_volume_source_refuse_instead_of_guessing() -> None:
    rule = dataclasses.replace(
        of_amount("0.10"), tiers=tiers(TierMode.MARGINAL, TierBy.WON_AMOUNT, TierPeriod.MONTH)
    )
    with pytest.raises(ValueError, match="pass volume="):
        entries_for([obs(0, WON, "1000")], programme(rule), [])


def test_a_rule_change_mid_quarter_never_rewrites_what_the_old_rule_earned() -> None:
    change = dt.date(2026, 11, 4)  # T0 is 2 November; day 2 is the change
    old = dataclasses.replace(of_amount("0.25"), until=change)
    new = dataclasses.replace(tiered(TierMode.MARGINAL), since=change)
    both = programme(old, new)
    assert rule_names(both) == ["percent_of_amount", "percent_of_amount@2026-11-04"]
    before = [obs(0, WON, "1500000.00", deal="1"), obs(3, WON, "1600000.00", deal="1")]
    after = [obs(2, WON, "1500000.00", deal="2")]
    # the deal won before the change stays at 25 %, its later adjustment too
    assert [(e.rule, e.amount) for e in entries_for(before, both, [])] == [
        ("percent_of_amount", D("375000.00")),
        ("percent_of_amount", D("25000.00")),
    ]
    # the deal won on the change day is the new rule's: 175 000 marginal
    assert [(e.rule, e.amount) for e in entries_for(after, both, [])] == [
        ("percent_of_amount@2026-11-04", D("175000.00")),
    ]
    # the old programme alone (before the change was written) booked the same 375 000:
    booked = entries_for(before[:1], programme(of_amount("0.25")), [])
    assert entries_for(before[:1], both, booked) == []  # adding the new rule books nothing more


def test_payments_split_between_two_rules_by_the_day_of_each_payment() -> None:
    change = dt.date(2026, 11, 4)
    old = dataclasses.replace(of_payments("0.40", due_days=0), until=change)
    new = dataclasses.replace(of_payments("0.30", due_days=0), since=change)
    history = [
        obs(0, WON, "100000", paid="40000"),
        obs(3, WON, "100000", paid="100000"),  # 60 000 paid after the change
    ]
    entries = entries_for(history, programme(old, new), [])
    # 40 % × 40 000 = 16 000 under the old rule; 30 % × 60 000 = 18 000 under the new
    assert [(e.rule, e.amount) for e in entries] == [
        ("percent_of_payments", D("16000.00")),
        ("percent_of_payments@2026-11-04", D("18000.00")),
    ]
