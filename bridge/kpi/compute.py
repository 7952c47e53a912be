"""Partner KPIs from link facts and ledger entries. Pure: values in, values out.

Counts follow the *handover cohort*: the leads handed over in the period (all of
them without a period) and where each of those stands now. Commission follows the
ledger: entries that occurred in the period. Amounts are ``Decimal`` in one report
currency; won deals in another currency are counted but kept out of the sums
(``other_currency`` says how many).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bridge.ledger.entries import Entry, EntryKind, quantize
from bridge.mapping.compiled import Side
from bridge.model import Money, Semantics

ZERO = Decimal(0)
DAY = Decimal(86400)


@dataclass(frozen=True, slots=True)
class LinkFacts:
    """One lead handed to a partner, as the store knows it."""

    partner_code: str
    agency_deal_id: str
    handed_at: dt.datetime
    outcome: Semantics = Semantics.OPEN
    outcome_at: dt.datetime | None = None
    amount: Money | None = None
    first_stage_change: dt.datetime | None = None  # the partner's first own stage move
    partner_updated_at: dt.datetime | None = None
    live: bool = True  # the link is still synced (not closed or orphaned)
    sourced: bool = False  # a lead the partner registered for the agency (not handed to it)


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range ``[start, end)``; ``None`` ends are open."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def __contains__(self, at: object) -> bool:
        if not isinstance(at, dt.datetime):
            return False
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


@dataclass(frozen=True, slots=True)
class PartnerKpi:
    partner_code: str
    partner_name: str
    currency: str
    handed: int
    active: int
    won: int
    lost: int
    conversion: Decimal | None  # won / handed, 4 places
    won_amount: Decimal
    average_deal: Decimal | None
    median_days_to_first_stage: Decimal | None  # 1 place
    days_since_update: int | None
    stale: int
    accrued: Mapping[Side, Decimal]  # by payer: who owes the commission
    paid: Mapping[Side, Decimal]  # payouts, by payer
    other_currency: int = 0
    leads_received: int = 0  # of ``handed``: leads the partner brought to the agency
    leads_passed: int = 0  # of ``handed``: deals the agency passed to the partner


def days_between(start: dt.datetime, end: dt.datetime) -> Decimal:
    return Decimal((end - start).total_seconds()) / DAY


def median_days(facts: Iterable[LinkFacts]) -> Decimal | None:
    spans = [days_between(f.handed_at, f.first_stage_change) for f in facts if f.first_stage_change]
    if not spans:
        return None
    return Decimal(statistics.median(spans)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def partner_kpi(
    code: str,
    name: str,
    facts: Sequence[LinkFacts],
    entries: Sequence[Entry],
    window: Window,
    now: dt.datetime,
    *,
    stale_after: dt.timedelta,
    currency: str = "RUB",
) -> PartnerKpi:
    """One partner's KPIs; ``facts`` and ``entries`` may hold other partners' rows too."""
    mine = [f for f in facts if f.partner_code == code]
    cohort = [f for f in mine if f.handed_at in window]
    won = [f for f in cohort if f.outcome is Semantics.WON]
    amounts = [f.amount.amount for f in won if f.amount and f.amount.currency == currency]
    total = sum(amounts, ZERO)
    return PartnerKpi(
        partner_code=code,
        partner_name=name,
        currency=currency,
        handed=len(cohort),
        active=sum(1 for f in cohort if f.outcome is Semantics.OPEN and f.live),
        won=len(won),
        lost=sum(1 for f in cohort if f.outcome is Semantics.LOST),
        conversion=_ratio(len(won), len(cohort)),
        won_amount=total,
        average_deal=quantize(total / len(amounts), currency) if amounts else None,
        median_days_to_first_stage=median_days(cohort),
        days_since_update=_days_since_update(mine, now),
        stale=sum(1 for f in mine if _stale(f, now, stale_after)),
        accrued=_by_payer(e for e in entries if _counts(e, code, window, currency, payout=False)),
        paid=_by_payer(e for e in entries if _counts(e, code, window, currency, payout=True)),
        other_currency=sum(1 for f in won if f.amount and f.amount.currency != currency),
        leads_received=sum(1 for f in cohort if f.sourced),
        leads_passed=sum(1 for f in cohort if not f.sourced),
    )


def _ratio(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else None


def _days_since_update(facts: Sequence[LinkFacts], now: dt.datetime) -> int | None:
    seen = [f.partner_updated_at for f in facts if f.partner_updated_at is not None]
    return (now - max(seen)).days if seen else None


def _stale(fact: LinkFacts, now: dt.datetime, after: dt.timedelta) -> bool:
    if not fact.live or fact.outcome is not Semantics.OPEN:
        return False
    return (fact.partner_updated_at or fact.handed_at) <= now - after


def _counts(entry: Entry, code: str, window: Window, currency: str, *, payout: bool) -> bool:
    is_payout = entry.kind is EntryKind.PAYOUT
    return (
        entry.partner == code
        and entry.currency == currency
        and entry.occurred_at in window
        and is_payout == payout
    )


def _by_payer(entries: Iterable[Entry]) -> dict[Side, Decimal]:
    out: dict[Side, Decimal] = {}
    for entry in entries:
        out[entry.payer] = out.get(entry.payer, ZERO) + entry.amount
    return out


@dataclass(frozen=True, slots=True)
class Leaderboard:
    by_won_amount: tuple[PartnerKpi, ...]
    by_conversion: tuple[PartnerKpi, ...]


def leaderboard(kpis: Iterable[PartnerKpi]) -> Leaderboard:
    """Rankings, best first; ties (and partners with no leads) fall back to the name."""
    rows = sorted(kpis, key=lambda k: k.partner_name.casefold())
    by_amount = sorted(rows, key=lambda k: -k.won_amount)
    by_conversion = sorted(
        rows, key=lambda k: (k.conversion is None, -(k.conversion or ZERO), -k.won)
    )
    return Leaderboard(tuple(by_amount), tuple(by_conversion))
