"""A partner's statement for a period: opening balance, entries, closing balance, overdue.

Entries fall into a period by ``occurred_at`` (when the deal was won, the payment
seen, the payout made), so a backfilled history lands where it happened. Overdue
is judged at the period's end, or now if the period is still running, counting
only what had occurred by then (see :mod:`bridge.ledger.balances` for FIFO).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bridge.ledger.balances import Direction, OpenItem, open_items, sums
from bridge.ledger.entries import Entry
from bridge.ledger.locale import Texts

_PERIOD = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<month>\d{2})|[Qq](?P<quarter>[1-4])))?$")


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open range of days ``[start, end)``: a month, a quarter or a year."""

    start: dt.date
    end: dt.date
    spec: str

    @classmethod
    def parse(cls, spec: str) -> Period:
        """``2026-11`` (a month), ``2026-Q4`` (a quarter) or ``2026`` (a year)."""
        match = _PERIOD.match(spec.strip())
        if match is None or (match["month"] and not 1 <= int(match["month"]) <= 12):
            raise ValueError(f"period {spec!r} is not YYYY-MM, YYYY-Qn or YYYY")
        year = int(match["year"])
        if match["month"]:
            first, months = int(match["month"]), 1
        elif match["quarter"]:
            first, months = 3 * int(match["quarter"]) - 2, 3
        else:
            first, months = 1, 12
        return cls(dt.date(year, first, 1), _add_months(year, first, months), spec.strip())

    @classmethod
    def containing(cls, day: dt.date) -> Period:
        return cls.parse(f"{day.year}-{day.month:02d}")

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time(), dt.UTC)

    def label(self, texts: Texts) -> str:
        months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month
        if months == 1:
            return texts.month(self.start)
        if months == 3:
            return texts.quarter(self.start)
        return str(self.start.year)


def _add_months(year: int, month: int, count: int) -> dt.date:
    index = year * 12 + month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class Statement:
    partner: str
    partner_name: str
    agency_name: str
    period: Period
    as_of: dt.datetime
    generated_at: dt.datetime
    opening: dict[Direction, Decimal]
    lines: tuple[Entry, ...]
    closing: dict[Direction, Decimal]
    overdue: tuple[OpenItem, ...]

    @property
    def directions(self) -> list[Direction]:
        keys = set(self.opening) | set(self.closing)
        return sorted(keys, key=lambda d: (d[1].value != "partner", d[2]))


def build_statement(
    entries: Sequence[Entry],
    partner: str,
    period: Period,
    now: dt.datetime,
    *,
    partner_name: str | None = None,
    agency_name: str = "",
) -> Statement:
    """The statement of ``partner`` for ``period`` from the partner's ``entries``."""
    mine = [e for e in entries if e.partner == partner]
    before = [e for e in mine if e.occurred_at < period.start_at]
    by_end = [e for e in mine if e.occurred_at < period.end_at]
    as_of = min(now, period.end_at)
    in_period = sorted(
        (e for e in by_end if e.occurred_at >= period.start_at),
        key=lambda e: (e.occurred_at, e.deal_id, e.cause),
    )
    upto_as_of = [e for e in by_end if e.occurred_at <= as_of]
    return Statement(
        partner=partner,
        partner_name=partner_name or partner,
        agency_name=agency_name,
        period=period,
        as_of=as_of,
        generated_at=now,
        opening=sums(before),
        lines=tuple(in_period),
        closing=sums(by_end),
        overdue=tuple(i for i in open_items(upto_as_of, as_of) if i.overdue),
    )
