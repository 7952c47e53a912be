"""Payout runs: what is due per partner on a run day, netted where allowed. Pure.

A partner is in the run of day D when its schedule (``payouts:`` in mapping.yaml)
runs on D — ``within: Nd`` runs every day, ``weekly: friday`` on Fridays,
``twice_monthly: [1, 15]`` on those days (31 meaning the month's last) — or when it
has an open payout request from its cabinet (a request joins the next run).

What is due: the uncovered part of every entry payable by the end of D (UTC),
found by the same FIFO coverage as balances and overdue
(:func:`bridge.ledger.balances.open_items`), over the entries that occurred by
then. Per partner and currency, what the agency owes the partner (``A``) and what
the partner owes the agency (``P``) are:

* with ``netting: true`` — one line, ``A − P``, paid by whichever side owes more
  (25 % owed on wins against 10 % of fees due: one net line, direction shown);
* otherwise — one line per direction.

A line below ``minimum:`` carries over (listed, not paid). Nothing is rounded:
every entry is already in minor units, so the sums are exact.

The run id is ``YYYYMMDD-<8 hex>``: the day and a digest of the lines and the
entries they cover, so the id names exactly this content; recording a run checks
that the ledger still yields the same id (nothing changed since it was listed).
For ``within: Nd`` each line shows the earliest deadline: the entry's own time —
the time of the CRM change that carried the win or the payment, not when the
bridge noticed it — plus N days; lines past it are marked late.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bridge.ledger.balances import open_items
from bridge.ledger.entries import Entry
from bridge.ledger.rules import payout_entry
from bridge.mapping.compiled import PayoutSchedule, ScheduleKind, Side
from bridge.model import Money

ZERO = Decimal(0)
RUN_CAUSE = "payout:run:"


@dataclass(frozen=True, slots=True)
class RunLine:
    """One payment of the run: ``payer`` pays ``amount`` (for the partner ``partner``)."""

    partner: str
    currency: str
    payer: Side
    amount: Decimal  # what moves, always ≥ 0
    agency_owes: Decimal  # due from the agency to the partner (gross)
    partner_owes: Decimal  # due from the partner to the agency (gross)
    netted: bool
    period_start: dt.date  # the earliest due entry's day
    period_end: dt.date  # the run day
    items: tuple[tuple[str, str, str], ...]  # keys of the entries it covers
    deadline: dt.datetime | None = None  # within-schedules: the earliest item's deadline
    late: bool = False
    requested: Decimal | None = None  # open cabinet requests in this currency, summed
    carried: bool = False  # below the minimum: not paid in this run

    @property
    def payments(self) -> list[tuple[Side, Decimal]]:
        """The payout entries recording this line books: each side's gross, if any."""
        if self.netted:
            gross = [(Side.AGENCY, self.agency_owes), (Side.PARTNER, self.partner_owes)]
            return [(side, amount) for side, amount in gross if amount > 0]
        return [(self.payer, self.amount)] if self.amount > 0 else []


@dataclass(frozen=True, slots=True)
class Run:
    day: dt.date
    lines: tuple[RunLine, ...]
    skipped: tuple[tuple[str, str], ...] = field(default=())  # partner, why not in this run

    @property
    def run_id(self) -> str:
        parts = [self.day.isoformat()]
        for line in self.lines:
            parts.append(
                "|".join(
                    [
                        line.partner,
                        line.currency,
                        line.payer.value,
                        f"{line.amount:f}",
                        f"{line.agency_owes:f}",
                        f"{line.partner_owes:f}",
                        str(line.netted),
                        str(line.carried),
                        ";".join("/".join(k) for k in line.items),
                    ]
                )
            )
        digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]
        return f"{self.day:%Y%m%d}-{digest}"

    @property
    def payable(self) -> list[RunLine]:
        return [line for line in self.lines if not line.carried and line.payments]


def run_day(run_id: str) -> dt.date:
    """The day a run id names; ValueError if it is not a run id."""
    day, _, digest = run_id.partition("-")
    if len(day) != 8 or len(digest) != 8 or not day.isdigit():
        raise ValueError(f"{run_id!r} is not a run id (YYYYMMDD-xxxxxxxx, as listed)")
    return dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=dt.UTC).date()


def cutoff(day: dt.date) -> dt.datetime:
    """The end of ``day`` (UTC): entries payable before it are due in its run."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)


def build_run(
    entries: Sequence[Entry],
    schedules: Mapping[str, PayoutSchedule | None],
    day: dt.date,
    requests: Mapping[str, Mapping[str, Decimal]] | None = None,
) -> Run:
    """The run of ``day``: ``schedules`` per partner code (None: no schedule),
    ``requests`` per partner → currency → amount asked in the cabinet (open ones)."""
    requests = requests or {}
    end = cutoff(day)
    known = sorted({e.partner for e in entries} | set(schedules) | set(requests))
    lines: list[RunLine] = []
    skipped: list[tuple[str, str]] = []
    for partner in known:
        schedule = schedules.get(partner)
        asked = requests.get(partner, {})
        if schedule is None and not asked:
            skipped.append((partner, "no payouts: schedule in mapping.yaml (use `ledger pay`)"))
            continue
        if schedule is not None and not schedule.runs_on(day) and not asked:
            skipped.append((partner, f"not a run day ({describe(schedule)})"))
            continue
        mine = [e for e in entries if e.partner == partner and e.occurred_at < end]
        lines.extend(_lines(partner, mine, schedule, day, asked))
    return Run(day, tuple(lines), tuple(skipped))


def _lines(
    partner: str,
    entries: Sequence[Entry],
    schedule: PayoutSchedule | None,
    day: dt.date,
    asked: Mapping[str, Decimal],
) -> list[RunLine]:
    end = cutoff(day)
    due = [i for i in open_items(entries, end) if i.entry.payable_at < end]
    netting = schedule is not None and schedule.netting
    out: list[RunLine] = []
    for currency in sorted({i.entry.currency for i in due} | set(asked)):
        items = [i for i in due if i.entry.currency == currency]
        owed = {
            side: sum((i.outstanding for i in items if i.entry.payer is side), ZERO)
            for side in Side
        }
        groups: list[tuple[Side | None, list[Entry]]]
        if netting:
            groups = [(None, [i.entry for i in items])]
        else:
            groups = [(side, [i.entry for i in items if i.entry.payer is side]) for side in Side]
        for side, covered in groups:
            if not covered:
                continue
            a = owed[Side.AGENCY] if side in (None, Side.AGENCY) else ZERO
            p = owed[Side.PARTNER] if side in (None, Side.PARTNER) else ZERO
            # a cabinet request asks the agency for money: it belongs on the agency's line
            request = asked.get(currency) if side is not Side.PARTNER else None
            out.append(_line(partner, currency, a, p, covered, schedule, day, request))
    return out


def _line(
    partner: str,
    currency: str,
    agency_owes: Decimal,
    partner_owes: Decimal,
    covered: list[Entry],
    schedule: PayoutSchedule | None,
    day: dt.date,
    requested: Decimal | None,
) -> RunLine:
    net = agency_owes - partner_owes
    payer = Side.AGENCY if net >= 0 else Side.PARTNER
    amount = abs(net)
    deadline = None
    if schedule is not None and schedule.kind is ScheduleKind.WITHIN:
        days = dt.timedelta(days=schedule.within_days)
        deadline = min(e.occurred_at for e in covered) + days
    minimum = schedule.minimum if schedule is not None else None
    return RunLine(
        partner=partner,
        currency=currency,
        payer=payer,
        amount=amount,
        agency_owes=agency_owes,
        partner_owes=partner_owes,
        netted=schedule is not None and schedule.netting,
        period_start=min(e.occurred_at for e in covered).date(),
        period_end=day,
        items=tuple(sorted(e.key for e in covered)),
        deadline=deadline,
        late=deadline is not None and deadline < cutoff(day) - dt.timedelta(days=1),
        requested=requested,
        carried=minimum is not None and amount < minimum,
    )


def describe(schedule: PayoutSchedule) -> str:
    if schedule.kind is ScheduleKind.WITHIN:
        return f"within {schedule.within_days} days, every day"
    if schedule.kind is ScheduleKind.WEEKLY:
        names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        return f"weekly on {names[schedule.weekday]}"
    return "twice monthly on days " + ", ".join(str(d) for d in schedule.days)


def purpose(line: RunLine, run_id: str) -> str:
    """The payment's purpose text for the registry (Russian, as the accountant files it)."""
    period = f"{line.period_start:%d.%m.%Y}–{line.period_end:%d.%m.%Y}"
    what = (
        "Выплата партнёрского вознаграждения"
        if line.payer is Side.AGENCY
        else "Оплата комиссии агентства"
    )
    text = f"{what} за период {period} по реестру {run_id}"
    if line.netted and line.agency_owes and line.partner_owes:
        text += (
            f" (взаимозачёт: агентство {line.agency_owes:f}, партнёр {line.partner_owes:f} "
            f"{line.currency})"
        )
    return text


def run_entries(run: Run, at: dt.datetime) -> list[Entry]:
    """The payout entries that record ``run``: causes ``payout:run:<id>:<payer>:<currency>``."""
    run_id = run.run_id
    out: list[Entry] = []
    for line in run.payable:
        for side, amount in line.payments:
            ref = f"run:{run_id}:{side.value}:{line.currency}"
            out.append(
                payout_entry(line.partner, Money(amount, line.currency), payer=side, at=at, ref=ref)
            )
    return out


def recorded(entries: Iterable[Entry], run_id: str) -> list[Entry]:
    """The entries already booked for ``run_id``."""
    prefix = f"{RUN_CAUSE}{run_id}:"
    return [e for e in entries if e.cause.startswith(prefix)]
