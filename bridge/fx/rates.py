"""Exchange rates as values, and the conversion rule (pure; no I/O, no clock).

The rule (docs/money.md, "Currencies"):

* A rate ``USD RUB 92.50 effective 2026-12-01`` means 1 USD = 92.50 RUB from that
  day on. It converts both ways: USD → RUB multiplies, RUB → USD divides. There are
  no cross rates: USD → KZT needs a USD/KZT (or KZT/USD) rate, never USD/RUB + RUB/KZT.
* A conversion on a date uses the rate **effective on that date, or the latest one
  before it** (``effective <= date``). Among rates for the same pair and day, the one
  entered last wins; between a pair and its reverse on the same day, the pair as the
  conversion reads it (source → target) wins.
* No rate on or before the date: no conversion. The caller parks with
  :attr:`MissingRate.reason`, which names the pair, the date and the command to run.
* The exact result (``amount × rate`` or ``amount ÷ rate``, at 34 significant digits)
  is kept in :attr:`Conversion.exact`; the amount written or booked is it rounded to
  the target currency's minor unit **half-up** (0.005 → 0.01), and only that rounding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

from babel.numbers import get_currency_precision

from bridge.model import Money

_EXACT = Context(prec=34)


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: ``Decimal("0.01")`` for RUB, ``1`` for JPY."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def rounded(exact: Decimal, currency: str) -> Decimal:
    """``exact`` rounded half-up to ``currency``'s minor unit (the one rounding rule)."""
    return exact.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Rate:
    """1 ``base`` = ``rate`` ``quote`` from ``effective`` on, as someone entered it."""

    base: str
    quote: str
    rate: Decimal
    effective: dt.date
    entered_by: str = ""
    entered_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.rate, Decimal) or not self.rate.is_finite() or self.rate <= 0:
            raise ValueError(f"a rate must be a positive decimal, got {self.rate!r}")
        if self.base == self.quote:
            raise ValueError(f"a rate needs two different currencies, got {self.base} twice")

    def __str__(self) -> str:
        return f"1 {self.base} = {self.rate:f} {self.quote} from {self.effective.isoformat()}"


@dataclass(frozen=True, slots=True)
class Conversion:
    """``source`` converted to ``result.currency`` at ``rate`` (1 ``base`` = rate ``quote``)."""

    source: Money
    result: Money  # ``exact`` rounded half-up to the target's minor unit
    exact: Decimal
    rate: Decimal
    base: str
    quote: str
    effective: dt.date

    @property
    def rate_text(self) -> str:
        return f"1 {self.base} = {self.rate:f} {self.quote}"


@dataclass(frozen=True, slots=True)
class MissingRate:
    """No rate for ``source`` → ``target`` on or before ``on``."""

    source: str
    target: str
    on: dt.date

    @property
    def reason(self) -> str:
        day = self.on.isoformat()
        return (
            f"no {self.source}→{self.target} rate on or before {day} — "
            f"bridge rates set {self.source} {self.target} <rate> --date {day}"
        )


@dataclass(frozen=True, slots=True)
class RateBook:
    """Every rate known, in the order entered (later entries win ties)."""

    rates: tuple[Rate, ...] = ()

    @classmethod
    def of(cls, rates: Iterable[Rate]) -> RateBook:
        return cls(tuple(rates))

    def find(self, source: str, target: str, on: dt.date) -> Rate | None:
        """The rate a ``source`` → ``target`` conversion on ``on`` uses (see the module doc)."""
        best: tuple[dt.date, int, int] | None = None
        found: Rate | None = None
        for order, rate in enumerate(self.rates):
            direct = (rate.base, rate.quote) == (source, target)
            if not direct and (rate.base, rate.quote) != (target, source):
                continue
            if rate.effective > on:
                continue
            key = (rate.effective, int(direct), order)
            if best is None or key > best:
                best, found = key, rate
        return found

    def convert(self, money: Money, target: str, on: dt.date) -> Conversion | MissingRate:
        """``money`` in ``target`` on ``on`` (identity when it already is in ``target``)."""
        if money.currency == target:
            return Conversion(money, money, money.amount, Decimal(1), target, target, on)
        rate = self.find(money.currency, target, on)
        if rate is None:
            return MissingRate(money.currency, target, on)
        if rate.base == money.currency:
            exact = _EXACT.multiply(money.amount, rate.rate)
        else:
            exact = _EXACT.divide(money.amount, rate.rate)
        result = Money(rounded(exact, target), target)
        return Conversion(money, result, exact, rate.rate, rate.base, rate.quote, rate.effective)
