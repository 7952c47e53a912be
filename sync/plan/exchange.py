"""Money in another currency, converted at the admin's rates (pure; rates come as data).

The rule is :mod:`bridge.fx.rates`: the rate effective on the **agency deal's date**
(the day it was created, UTC), or the latest one before it. Using the deal's own date,
not today's, keeps a link's converted amount stable: a rate entered tomorrow does not
rewrite a deal handed over today (only a rate for that day or earlier, entered later,
does — a correction). No rate: the value is refused and the link parks with
:attr:`~bridge.fx.rates.MissingRate.reason`; once ``bridge rates set`` adds it, the
next pass carries the value with no edit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bridge.fx.rates import Conversion, RateBook
from bridge.model import Money
from sync.plan.convert import Ok, Refused, Result, canonical_decimal


@dataclass(frozen=True, slots=True)
class Exchange:
    """Converts with ``rates`` on ``on`` (the agency deal's date)."""

    rates: RateBook
    on: dt.date

    def __call__(self, money: Money, target: str) -> Result:
        converted = self.rates.convert(money, target, self.on)
        if not isinstance(converted, Conversion):
            return Refused(converted.reason)
        return Ok(Money(canonical_decimal(converted.result.amount), target))
