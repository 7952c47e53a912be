"""Worked examples for every commission rule, rounding, hold periods and membership."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pytest

from bridge.ledger.entries import Entry, EntryKind, quantize
from bridge.ledger.rules import DealObservation, entries_for, membership_entries, payout_entry
from bridge.mapping.compiled import Commission, Side
from tests.ledger.factories import (
    LOST,
    OPEN,
    WON,
    at,
    commission,
    obs,
    of_amount,
    of_fee,
    of_payments,
    rub,
)


def book(history: Sequence[DealObservation], rules: Commission) -> list[Entry]:
    return entries_for(history, rules, [])


def amounts(entries: list[Entry]) -> list[tuple[str, Decimal]]:
    return [(e.cause, e.amount) for e in entries]


def test_25_percent_of_a_1_200_000_rub_deal_accrues_when_won() -> None:
    history = [obs(0, OPEN, "1200000.00"), obs(2, WON, "1200000.00")]
    (entry,) = book(history, commission(of_amount("0.25", due_days=5)))
    assert entry.amount == Decimal("300000.00")
    assert (entry.currency, entry.payer, entry.kind) == ("RUB", Side.PARTNER, EntryKind.ACCRUAL)
    assert (entry.rate, entry.base) == (Decimal("0.25"), Decimal("1200000.00"))
    assert entry.cause == "percent_of_amount:won#1"
    assert (entry.occurred_at, entry.payable_at) == (at(2), at(7))


def test_an_open_or_lost_deal_accrues_nothing() -> None:
    assert book([obs(0, OPEN, 1000), obs(1, LOST, 1000)], commission(of_amount())) == []


def test_10_percent_of_the_fee_field_is_owed_by_the_agency() -> None:
    history = [obs(0, WON, 1_000_000, fee="150000.00")]
    (entry,) = book(history, commission(of_fee("0.10")))
    assert (entry.amount, entry.payer) == (Decimal("15000.00"), Side.AGENCY)
    assert entry.rule == "percent_of_fee" and entry.base == Decimal("150000.00")


def test_40_percent_of_three_payments_each_due_3_days_after_it_was_seen() -> None:
    history = [
        obs(0, OPEN, paid=None),
        obs(1, OPEN, paid="100000"),
        obs(4, WON, paid="250000"),
        obs(10, WON, paid="400000"),
    ]
    entries = book(history, commission(of_payments("0.40", due_days=3)))
    assert [(e.amount, e.occurred_at, e.payable_at) for e in entries] == [
        (Decimal("40000.00"), at(1), at(4)),
        (Decimal("60000.00"), at(4), at(7)),
        (Decimal("60000.00"), at(10), at(13)),
    ]
    assert [e.base for e in entries] == [Decimal(100000), Decimal(150000), Decimal(150000)]


def test_a_decrease_of_the_paid_field_is_a_clawback_payable_at_once() -> None:
    history = [obs(0, WON, paid="250000"), obs(5, WON, paid="100000")]
    entries = book(history, commission(of_payments("0.40", due_days=3)))
    assert amounts(entries) == [
        ("percent_of_payments:paid@250000.00", Decimal("100000.00")),
        ("percent_of_payments:paid@100000.00", Decimal("-60000.00")),
    ]
    assert entries[1].kind is EntryKind.CLAWBACK and entries[1].payable_at == at(5)


def test_a_reopened_deal_is_reversed_and_a_re_won_deal_accrues_again() -> None:
    history = [obs(0, WON, 1_200_000), obs(3, OPEN, 1_200_000), obs(6, WON, 1_000_000)]
    entries = book(history, commission(of_amount("0.25")))
    assert amounts(entries) == [
        ("percent_of_amount:won#1", Decimal("300000.00")),
        ("percent_of_amount:won#1:reversal", Decimal("-300000.00")),
        ("percent_of_amount:won#2", Decimal("250000.00")),
    ]
    assert [e.kind for e in entries] == [EntryKind.ACCRUAL, EntryKind.REVERSAL, EntryKind.ACCRUAL]


def test_a_lost_deal_after_won_is_reversed() -> None:
    entries = book([obs(0, WON, 400), obs(1, LOST, 400)], commission(of_amount("0.25")))
    assert sum(e.amount for e in entries) == 0 and entries[1].kind is EntryKind.REVERSAL


def test_an_amount_change_while_won_books_the_difference() -> None:
    history = [obs(0, WON, 1_200_000), obs(1, WON, 1_300_000), obs(2, WON, 1_250_000)]
    entries = book(history, commission(of_amount("0.25")))
    assert amounts(entries) == [
        ("percent_of_amount:won#1", Decimal("300000.00")),
        ("percent_of_amount:won#1:adjust@1300000.00", Decimal("25000.00")),
        ("percent_of_amount:won#1:adjust@1250000.00", Decimal("-12500.00")),
    ]
    assert entries[1].kind is EntryKind.ADJUSTMENT and entries[1].base == Decimal(100000)


def test_amount_changes_while_open_book_nothing() -> None:
    history = [obs(0, OPEN, 100), obs(1, OPEN, 900), obs(2, WON, 1000)]
    assert amounts(book(history, commission(of_amount("0.25")))) == [
        ("percent_of_amount:won#1", Decimal("250.00"))
    ]


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("0.005", "RUB", "0.01"),
        ("0.004999", "RUB", "0.00"),
        ("-0.005", "RUB", "-0.01"),
        ("33.335", "RUB", "33.34"),
        ("12.5", "JPY", "13"),
        ("1.0005", "BHD", "1.001"),
    ],
)
def test_rounding_is_half_up_to_the_currency_minor_unit(
    amount: str, currency: str, rounded: str
) -> None:
    assert str(quantize(Decimal(amount), currency)) == rounded


def test_rounding_applies_per_entry_and_never_drifts() -> None:
    """Each entry is whole kopecks, and their sum is the rounded commission on the current
    base: rounding each 0.005 difference on its own would have booked 0.03 here."""
    history = [obs(0, WON, "0.05"), obs(1, WON, "0.10"), obs(2, WON, "0.15")]
    entries = book(history, commission(of_amount("0.10")))
    assert [e.amount for e in entries] == [Decimal("0.01"), Decimal("0.01")]
    assert [e.cause.rsplit(":", 1)[-1] for e in entries] == ["won#1", "adjust@0.15"]
    assert sum(e.amount for e in entries) == quantize(Decimal("0.015"), "RUB")


def test_a_hold_period_delays_when_an_accrual_is_payable() -> None:
    rules = commission(of_amount("0.25", hold_days=14, due_days=3))
    accrual, reversal = book([obs(0, WON, 1000), obs(1, OPEN, 1000)], rules)
    assert accrual.payable_at == at(17)
    assert reversal.payable_at == at(1)  # a reduction is never held back


def test_membership_fee_is_booked_once_per_contract_year() -> None:
    fee = rub(50000)
    first = membership_entries("alfa", fee, since=dt.date(2026, 3, 15), until=dt.date(2027, 1, 2))
    again = membership_entries("alfa", fee, since=dt.date(2026, 3, 15), until=dt.date(2027, 3, 15))
    assert [e.cause for e in first] == ["membership:2026"]  # no fee on 1 January
    assert [e.cause for e in again] == ["membership:2026", "membership:2027"]
    assert again[0] == first[0]
    assert again[0].payable_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    assert again[1].payable_at == dt.datetime(2027, 3, 15, tzinfo=dt.UTC)
    assert (again[1].amount, again[1].payer) == (Decimal("50000.00"), Side.PARTNER)


def test_a_payout_is_positive_and_keyed_by_its_reference() -> None:
    entry = payout_entry("alfa", rub("1000.005"), payer=Side.PARTNER, at=at(0), ref="п/п 7")
    assert (entry.cause, entry.amount, entry.owed) == (
        "payout:п/п 7",
        Decimal("1000.01"),
        Decimal("-1000.01"),
    )
    with pytest.raises(ValueError, match="positive"):
        payout_entry("alfa", rub(0), payer=Side.PARTNER, at=at(0), ref="x")


def test_a_history_must_belong_to_one_link() -> None:
    with pytest.raises(ValueError, match="one link"):
        book([obs(0, WON, 1), obs(1, WON, 1, deal="102")], commission(of_amount()))


def test_existing_entries_are_not_derived_again() -> None:
    rules = commission(of_amount("0.25"))
    history = [obs(0, WON, 1000)]
    first = entries_for(history, rules, [])
    later = [*history, obs(1, WON, 1200)]
    assert amounts(entries_for(later, rules, first)) == [
        ("percent_of_amount:won#1:adjust@1200.00", Decimal("50.00"))
    ]
    assert entries_for(history, rules, first) == []


def test_a_late_observation_books_only_what_is_missing() -> None:
    rules = commission(of_payments("0.40"))
    booked = entries_for([obs(0, WON, paid=100), obs(2, WON, paid=400)], rules, [])
    late = entries_for(
        [obs(0, WON, paid=100), obs(2, WON, paid=400), obs(1, WON, paid=250)], rules, booked
    )
    assert late == []
    assert sum(e.amount for e in booked) == Decimal("160.00")


def test_two_rules_of_the_same_kind_get_distinct_causes() -> None:
    rules = commission(of_amount("0.25"), of_amount("0.05"))
    entries = book([obs(0, WON, 1000)], rules)
    assert [(e.cause, e.amount) for e in entries] == [
        ("percent_of_amount:won#1", Decimal("250.00")),
        ("percent_of_amount.2:won#1", Decimal("50.00")),
    ]


def test_a_rate_change_is_brought_in_line_by_one_fix_entry() -> None:
    """Documented behaviour: the ledger always converges on rate × current base, so a rate
    changed in mapping.yaml reaches a deal's booked sum the next time it is derived."""
    history = [obs(0, WON, 1000)]
    booked = entries_for(history, commission(of_amount("0.25")), [])
    (fix,) = entries_for(history, commission(of_amount("0.30")), booked)
    assert (fix.cause, fix.amount, fix.kind) == (
        "percent_of_amount:won#1:fix#1",
        Decimal("50.00"),
        EntryKind.ADJUSTMENT,
    )
    assert entries_for(history, commission(of_amount("0.30")), [*booked, fix]) == []
