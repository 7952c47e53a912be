"""Balances and overdue amounts, always derived from entries (never a stored number).

A *direction* is (partner, payer, currency): what the payer owes in that currency.
Its balance is the sum of everything booked against the payer minus its payouts.

Which items are overdue is decided by FIFO coverage, in two passes:

1. A negative entry that is not a payout (reversal, clawback, downward adjustment)
   first cancels the positive entries of the *same deal and rule*, newest first:
   it corrects those, not some unrelated older debt.
2. Payouts, and whatever step 1 left over, then pay off the remaining positive
   entries oldest-payable first (ties by occurrence, then cause).

An item still not covered whose ``payable_at`` has passed is overdue.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bridge.ledger.entries import Entry, EntryKind
from bridge.mapping.compiled import Side

ZERO = Decimal(0)
Direction = tuple[str, Side, str]  # partner, payer, currency


def direction(entry: Entry) -> Direction:
    return (entry.partner, entry.payer, entry.currency)


@dataclass(frozen=True, slots=True)
class OpenItem:
    """A positive entry not yet fully covered; ``outstanding`` is what remains of it."""

    entry: Entry
    outstanding: Decimal
    overdue: bool


@dataclass(frozen=True, slots=True)
class Balance:
    partner: str
    payer: Side
    currency: str
    charged: Decimal  # accruals and corrections, net
    paid: Decimal  # payouts
    overdue: Decimal

    @property
    def balance(self) -> Decimal:
        return self.charged - self.paid


def sums(entries: Iterable[Entry]) -> dict[Direction, Decimal]:
    """What each payer owes, per direction (payouts subtract)."""
    out: dict[Direction, Decimal] = defaultdict(Decimal)
    for entry in entries:
        out[direction(entry)] += entry.owed
    return dict(out)


def open_items(entries: Sequence[Entry], now: dt.datetime) -> list[OpenItem]:
    """Uncovered positive entries of every direction, oldest payable first."""
    out: list[OpenItem] = []
    groups: dict[Direction, list[Entry]] = defaultdict(list)
    for entry in entries:
        groups[direction(entry)].append(entry)
    for group in groups.values():
        out.extend(_open_in_direction(group, now))
    return sorted(out, key=lambda i: _order(i.entry))


def _order(entry: Entry) -> tuple[dt.datetime, dt.datetime, str, str]:
    return (entry.payable_at, entry.occurred_at, entry.deal_id, entry.cause)


def _open_in_direction(entries: Sequence[Entry], now: dt.datetime) -> list[OpenItem]:
    debits = sorted((e for e in entries if e.owed > 0), key=_order)
    left = {id(e): e.amount for e in debits}
    pool = sum((e.amount for e in entries if e.kind is EntryKind.PAYOUT), ZERO)
    for credit in (e for e in entries if e.kind is not EntryKind.PAYOUT and e.amount < 0):
        same = [d for d in debits if (d.deal_id, d.rule) == (credit.deal_id, credit.rule)]
        pool += _cover(reversed(same), left, -credit.amount)
    _cover(debits, left, pool)
    return [OpenItem(d, left[id(d)], d.payable_at < now) for d in debits if left[id(d)] > 0]


def _cover(debits: Iterable[Entry], left: dict[int, Decimal], amount: Decimal) -> Decimal:
    """Apply ``amount`` to ``debits`` in the given order; returns what was not needed."""
    for debit in debits:
        take = min(amount, left[id(debit)])
        left[id(debit)] -= take
        amount -= take
        if amount == 0:
            break
    return amount


def balances(entries: Sequence[Entry], now: dt.datetime) -> list[Balance]:
    """Every direction's balance and overdue amount, sorted by partner, payer, currency."""
    charged: dict[Direction, Decimal] = defaultdict(Decimal)
    paid: dict[Direction, Decimal] = defaultdict(Decimal)
    for entry in entries:
        target = paid if entry.kind is EntryKind.PAYOUT else charged
        target[direction(entry)] += entry.amount
    overdue: dict[Direction, Decimal] = defaultdict(Decimal)
    for item in open_items(entries, now):
        if item.overdue:
            overdue[direction(item.entry)] += item.outstanding
    keys = sorted(set(charged) | set(paid), key=lambda d: (d[0], d[1].value, d[2]))
    return [
        Balance(p, s, c, charged[(p, s, c)], paid[(p, s, c)], overdue[(p, s, c)])
        for p, s, c in keys
    ]
