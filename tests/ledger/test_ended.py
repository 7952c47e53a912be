"""A link whose deal was re-routed: its commission is taken back, with the reason."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from bridge.ledger.entries import EntryKind
from bridge.ledger.rules import entries_for
from tests.ledger.factories import OPEN, WON, commission, obs, of_amount, of_payments

WHY = "re-routed to iqproject"


def test_payments_are_reversed_to_zero_with_the_reason() -> None:
    paid = obs(1, OPEN, 50_000, paid=5_000)
    ended = dataclasses.replace(obs(2, OPEN, 50_000, paid=5_000), ended=WHY)
    entries = entries_for([paid, ended], commission(of_payments()), [])
    assert [(e.kind, e.amount, e.ref) for e in entries] == [
        (EntryKind.ACCRUAL, Decimal("2000.00"), None),
        (EntryKind.REVERSAL, Decimal("-2000.00"), WHY),
    ]
    assert sum(e.amount for e in entries) == 0
    again = entries_for([ended, paid, paid], commission(of_payments()), entries)
    assert again == []  # a replay, in any order, books nothing


def test_a_won_commission_is_reversed_and_a_route_back_books_it_again() -> None:
    won = obs(1, WON, 640_000)
    ended = dataclasses.replace(obs(2, WON, 640_000), ended=WHY)
    back = obs(3, WON, 640_000)
    entries = entries_for([won, ended, back], commission(of_amount()), [])
    assert [(e.cause, e.amount, e.ref) for e in entries] == [
        ("percent_of_amount:won#1", Decimal("160000.00"), None),
        ("percent_of_amount:won#1:ended", Decimal("-160000.00"), WHY),
        ("percent_of_amount:won#2", Decimal("160000.00"), None),
    ]


def test_an_ending_at_the_same_instant_sorts_after_what_it_ends() -> None:
    paid = obs(1, OPEN, 50_000, paid=5_000)
    ended = dataclasses.replace(paid, ended=WHY)
    entries = entries_for([ended, paid], commission(of_payments()), [])
    assert sum(e.amount for e in entries) == 0 and len(entries) == 2
