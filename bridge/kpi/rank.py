"""Ratings by any KPI (``bridge kpi --rank-by``). Pure.

Each KPI has a direction: more is better for counts of leads, wins, amounts, commission
and payments; less is better for losses, reaction time, days since the last update and
stale deals. Partners without a value (no leads, no wins) come last; ties fall back to
the name, so a rating is stable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from bridge.kpi.compute import PartnerKpi

Value = Callable[[PartnerKpi], Decimal | int | None]


def _total(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal(0))


# name → (value, higher is better)
RANKINGS: dict[str, tuple[Value, bool]] = {
    "handed": (lambda k: k.handed, True),
    "active": (lambda k: k.active, True),
    "won": (lambda k: k.won, True),
    "lost": (lambda k: k.lost, False),
    "conversion": (lambda k: k.conversion, True),
    "won_amount": (lambda k: k.won_amount, True),
    "average_deal": (lambda k: k.average_deal, True),
    "reaction": (lambda k: k.median_days_to_first_stage, False),
    "days_since_update": (lambda k: k.days_since_update, False),
    "stale": (lambda k: k.stale, False),
    "commission": (lambda k: _total(k.accrued.values()), True),
    "payments": (lambda k: _total(k.paid.values()), True),
}


def rank_by(kpis: Iterable[PartnerKpi], key: str) -> tuple[PartnerKpi, ...]:
    """``kpis`` best first by ``key`` (one of :data:`RANKINGS`)."""
    if key not in RANKINGS:
        raise ValueError(f"cannot rank by {key!r}; choose one of {', '.join(RANKINGS)}")
    value, higher = RANKINGS[key]

    def order(k: PartnerKpi) -> tuple[bool, Decimal, str]:
        found = value(k)
        if found is None:
            return (True, Decimal(0), k.partner_name.casefold())
        number = Decimal(found)
        return (False, -number if higher else number, k.partner_name.casefold())

    return tuple(sorted(kpis, key=order))
