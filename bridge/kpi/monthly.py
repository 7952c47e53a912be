"""Month-by-month series for the KPI chart: won deals and commission accrued per partner.

A won deal counts in the month it was won; commission in the month its ledger entry
occurred (accruals, adjustments and reversals net, both payers together — a partner
normally has one direction). Months are calendar months in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bridge.kpi.compute import LinkFacts
from bridge.ledger.entries import Entry, EntryKind
from bridge.model import Semantics

Month = tuple[int, int]  # (year, month)


@dataclass(frozen=True, slots=True)
class Series:
    partner_code: str
    partner_name: str
    months: tuple[Month, ...]
    won: tuple[int, ...]
    commission: tuple[Decimal, ...]


def month_of(at: dt.datetime) -> Month:
    return (at.year, at.month)


def months_between(first: Month, last: Month) -> tuple[Month, ...]:
    """Every month from ``first`` to ``last``, both included."""
    start, end = first[0] * 12 + first[1] - 1, last[0] * 12 + last[1] - 1
    return tuple((i // 12, i % 12 + 1) for i in range(start, end + 1))


def last_months(now: dt.datetime, count: int = 12) -> tuple[Month, ...]:
    index = now.year * 12 + now.month - 1 - (count - 1)
    return months_between((index // 12, index % 12 + 1), month_of(now))


def series(
    code: str,
    name: str,
    months: Sequence[Month],
    facts: Sequence[LinkFacts],
    entries: Sequence[Entry],
    currency: str = "RUB",
) -> Series:
    won = {m: 0 for m in months}
    commission = {m: Decimal(0) for m in months}
    for fact in facts:
        if fact.partner_code != code or fact.outcome is not Semantics.WON or not fact.outcome_at:
            continue
        if (month := month_of(fact.outcome_at)) in won:
            won[month] += 1
    for entry in entries:
        if entry.partner != code or entry.kind is EntryKind.PAYOUT or entry.currency != currency:
            continue
        if (month := month_of(entry.occurred_at)) in commission:
            commission[month] += entry.amount
    return Series(code, name, tuple(months), tuple(won.values()), tuple(commission.values()))
