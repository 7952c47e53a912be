"""Ledger entries as values: what one line of the commission ledger says.

An entry is immutable and identified by ``(partner, deal_id, cause)``. The cause is
derived deterministically from the deal's history (see :mod:`bridge.ledger.rules`),
so deriving the same history twice yields the same causes and the store can drop
the duplicates. Entries that belong to a partner rather than to one deal
(membership fees, payouts) carry ``deal_id == ""``.

Rounding: every amount is rounded to the currency's minor unit (Babel's currency
digits, e.g. 2 for RUB, 0 for JPY) half-up, once per entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from babel.numbers import get_currency_precision

from bridge.fx.rates import Conversion
from bridge.mapping.compiled import Side
from bridge.model import require_utc

PARTNER_LEVEL = ""  # deal_id of entries that belong to the partner, not to one deal


class EntryKind(StrEnum):
    ACCRUAL = "accrual"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"
    CLAWBACK = "clawback"
    PAYOUT = "payout"
    MEMBERSHIP = "membership"
    # Zero amount: the deal's link was orphaned (partner deal deleted) or closed (the
    # agency deal deleted, moved out of the partner pipeline or un-routed) after
    # commission was booked; what was booked stays (see bridge.ledger.rules.kept_notices).
    NOTICE = "notice"


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: ``Decimal("0.01")`` for RUB."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half-up (0.005 → 0.01, −0.005 → −0.01)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger line. ``payer`` owes ``amount`` (negative: owes that much less).

    For a payout ``payer`` is who paid and ``amount`` is positive; it reduces what
    ``payer`` owes. ``base`` is the change of the rule's base this entry is about
    (the deal amount at an accrual, the payment increase, ...), ``rate`` the rule's.
    """

    partner: str
    deal_id: str
    cause: str
    kind: EntryKind
    rule: str
    amount: Decimal
    currency: str
    payer: Side
    occurred_at: dt.datetime
    payable_at: dt.datetime
    rate: Decimal | None = None
    base: Decimal | None = None
    ref: str | None = None
    # The partner-side amount this entry's base was converted from, at which rate and
    # date, and the exact converted value (bridge.ledger.fx); None: no conversion.
    fx: Conversion | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "occurred_at", require_utc(self.occurred_at, "occurred_at"))
        object.__setattr__(self, "payable_at", require_utc(self.payable_at, "payable_at"))
        if quantize(self.amount, self.currency) != self.amount:
            raise ValueError(f"{self.cause}: {self.amount} is not in {self.currency} minor units")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.partner, self.deal_id, self.cause)

    @property
    def owed(self) -> Decimal:
        """This entry's effect on what ``payer`` owes."""
        return -self.amount if self.kind is EntryKind.PAYOUT else self.amount
