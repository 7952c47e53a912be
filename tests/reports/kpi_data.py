"""A small hand-built history for two partners (November 2026), with worked KPI values.

Альфа (alfa): A1..A4 handed over in November, A5 in October (won in November).
Бета (beta): B1..B3 handed over in November.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bridge.kpi.compute import LinkFacts
from bridge.ledger.entries import Entry, EntryKind
from bridge.mapping.compiled import Side
from bridge.model import Money, Semantics

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def at(day: int, hour: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def rub(text: str) -> Money:
    return Money(Decimal(text), "RUB")


WON, LOST, OPEN = Semantics.WON, Semantics.LOST, Semantics.OPEN

FACTS = [
    # partner, deal, handed, outcome, outcome at, amount, first stage move, partner updated
    LinkFacts("alfa", "A1", at(2), WON, at(20), rub("100000.00"), at(4, 12), at(20)),
    LinkFacts("alfa", "A2", at(5), WON, at(25), rub("250000.50"), at(6), at(25)),
    LinkFacts("alfa", "A3", at(10), LOST, at(15), None, at(14), at(15)),
    LinkFacts("alfa", "A4", at(12), OPEN, None, None, None, at(13)),
    LinkFacts("alfa", "A5", at(20, month=10), WON, at(3), rub("50000.00"), at(22, month=10), at(3)),
    LinkFacts("beta", "B1", at(3), WON, at(10), rub("900000.00"), at(5), at(10)),
    LinkFacts("beta", "B2", at(4), OPEN, None, None, None, at(28)),
    LinkFacts("beta", "B3", at(6), OPEN, None, None, at(7), at(27)),
]


def entry(deal: str, cause: str, amount: str, when: dt.datetime, kind: EntryKind) -> Entry:
    return Entry(
        partner="alfa",
        deal_id=deal,
        cause=cause,
        kind=kind,
        rule="percent_of_amount",
        amount=Decimal(amount),
        currency="RUB",
        payer=Side.PARTNER,
        occurred_at=when,
        payable_at=when,
    )


ENTRIES = [
    entry("A1", "won:1", "25000.00", at(20), EntryKind.ACCRUAL),
    entry("A2", "won:1", "62500.13", at(25), EntryKind.ACCRUAL),
    entry("A5", "won:1", "12500.00", at(3), EntryKind.ACCRUAL),
    entry("", "payout:1", "25000.00", at(28), EntryKind.PAYOUT),
    entry("", "membership:2026", "10000.00", at(1, month=10), EntryKind.MEMBERSHIP),
]
