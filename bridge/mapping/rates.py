"""The optional ``rates:`` table of mapping.yaml: exchange rates checked with their lines.

Each row is ``{base: USD, quote: KZT, rate: 460, date: "2026-11-01"}`` — 1 USD = 460 KZT
from that day on, the same as ``bridge rates set USD KZT 460 --date 2026-11-01``. Rates
entered with the command come after these, so for the same pair and day they win.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bridge.fx.rates import Rate
from bridge.mapping.errors import KeyPath
from bridge.mapping.policy import check_currency
from bridge.mapping.report import Reporter
from bridge.mapping.schema import RateSpec


def build_rates(specs: Sequence[RateSpec], out: Reporter) -> tuple[Rate, ...]:
    rates: list[Rate] = []
    for index, spec in enumerate(specs):
        path: KeyPath = ("rates", index)
        ok = check_currency(spec.base, (*path, "base"), out)
        ok = check_currency(spec.quote, (*path, "quote"), out) and ok
        if ok and spec.base == spec.quote:
            out.error(
                (*path, "quote"), f"base and quote are both {spec.base} — name two currencies"
            )
            ok = False
        if not spec.rate.is_finite() or spec.rate <= 0:
            out.error((*path, "rate"), f"rate {spec.rate} must be positive — 1 base = rate quote")
            ok = False
        try:
            day = dt.date.fromisoformat(spec.date.strip())
        except ValueError:
            message = f"'{spec.date}' is not a date — write it quoted as \"YYYY-MM-DD\""
            out.error((*path, "date"), message)
            continue
        if ok:
            rates.append(Rate(spec.base, spec.quote, spec.rate, day, "mapping.yaml"))
    return tuple(rates)
