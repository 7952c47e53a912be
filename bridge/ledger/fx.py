"""The exchange rate behind a ledger amount: carried on observations and entries, stored
in six columns (``fx_rate``, ``fx_pair``, ``fx_date``, ``fx_source``,
``fx_source_currency``, ``fx_exact``) of ``ledger_observation`` and ``ledger_entry``.

When a partner keeps its own currency, the agency deal's amount is the partner's amount
converted at the admin's rate (:mod:`bridge.fx.rates`). The ledger books in the agency
deal's currency as always, and each entry of an amount rule records the conversion of
the observation it came from: the rate and its date, the partner-side amount and the
exact (unrounded) converted value. Nothing is converted here; this only carries the
record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bridge.fx.rates import Conversion, rounded
from bridge.ledger.entries import Entry
from bridge.mapping.compiled import RuleKind
from bridge.model import Money

COLUMNS = ("fx_rate", "fx_pair", "fx_date", "fx_source", "fx_source_currency", "fx_exact")


def fx_values(conv: Conversion | None) -> dict[str, Any]:
    """The six columns for ``conv`` (all None without one)."""
    if conv is None:
        return dict.fromkeys(COLUMNS)
    return {
        "fx_rate": conv.rate,
        "fx_pair": f"{conv.base}/{conv.quote}",
        "fx_date": conv.effective,
        "fx_source": conv.source.amount,
        "fx_source_currency": conv.source.currency,
        "fx_exact": conv.exact,
    }


def fx_from(values: Mapping[str, Any], target: str) -> Conversion | None:
    """The conversion kept in ``values`` (a row's columns) into ``target``, or None."""
    rate, pair, day = values.get("fx_rate"), values.get("fx_pair"), values.get("fx_date")
    source, currency = values.get("fx_source"), values.get("fx_source_currency")
    exact = values.get("fx_exact")
    if rate is None or pair is None or source is None or currency is None or exact is None:
        return None
    assert isinstance(day, dt.date) and isinstance(exact, Decimal)
    base, _, quote = str(pair).partition("/")
    result = Money(rounded(exact, target), target)
    return Conversion(Money(source, str(currency)), result, exact, rate, base, quote, day)


def digest_part(conv: Conversion | None) -> list[str]:
    """What an observation's content hash adds for its conversion (nothing without one)."""
    if conv is None:
        return []
    return [
        f"fx {conv.source.amount.normalize():f} {conv.source.currency} "
        f"{conv.rate.normalize():f} {conv.base}/{conv.quote} {conv.effective.isoformat()}"
    ]


def with_fx(entries: Sequence[Entry], history: Sequence[Any]) -> list[Entry]:
    """``entries`` of the amount rule, each with the conversion of the observation it came
    from (same ``observed_at``); other entries as they are."""
    by_time: dict[dt.datetime, Conversion] = {}
    for obs in history:
        conv = getattr(obs, "fx", None)
        if conv is not None:
            by_time[obs.observed_at] = conv
    out = []
    for entry in entries:
        conv = by_time.get(entry.occurred_at)
        amount_rule = entry.rule.split(".")[0] == RuleKind.PERCENT_OF_AMOUNT.value
        if conv is not None and amount_rule and conv.result.currency == entry.currency:
            out.append(dataclasses.replace(entry, fx=conv))
        else:
            out.append(entry)
    return out
