"""A partner's won volume in a tier period, from its deals' observations (pure).

``won_amount`` / ``won_count`` tiers need what the partner's *other* deals won in the
rule's period (calendar month, quarter or year, UTC) before a win. It is read from
the observations the ledger keeps, never from booked entries, so it does not depend
on which rule booked them: a deal counts when, at that moment, its latest
observation is won and it became won inside the period.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bridge.ledger.rules import DealObservation
from bridge.ledger.tiers import Prior
from bridge.mapping.compiled import CommissionRule, RuleKind, TierPeriod
from bridge.model import Money, Semantics

ZERO = Decimal(0)


def period_start(period: TierPeriod, at: dt.datetime) -> dt.datetime:
    """The start (00:00 UTC) of the calendar month, quarter or year holding ``at``."""
    day = at.astimezone(dt.UTC).date()
    if period is TierPeriod.YEAR:
        start = day.replace(month=1, day=1)
    elif period is TierPeriod.QUARTER:
        start = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    else:
        start = day.replace(day=1)
    return dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)


def prior_wins(
    histories: dict[str, list[DealObservation]], rule: CommissionRule, at: dt.datetime
) -> Prior:
    """Pure: the other deals' wins in ``rule``'s period strictly before ``at``."""
    assert rule.tiers is not None and rule.tiers.period is not None
    start = period_start(rule.tiers.period, at)
    amount, count = ZERO, 0
    for seen in histories.values():
        won_since: dt.datetime | None = None
        last: DealObservation | None = None
        for obs in seen:
            if obs.observed_at >= at:
                break
            if obs.stage is Semantics.WON and (last is None or last.stage is not Semantics.WON):
                won_since = obs.observed_at
            last = obs
        if last is None or last.stage is not Semantics.WON or won_since is None:
            continue
        if won_since < start:
            continue
        base = _base(rule, last)
        count += 1
        amount += base.amount if base is not None else ZERO
    return Prior(amount, count)


def _base(rule: CommissionRule, obs: DealObservation) -> Money | None:
    return obs.fee if rule.kind is RuleKind.PERCENT_OF_FEE else obs.amount
