"""Activity decline: each partner against its own past. Pure: data in, data out.

For every partner and activity, the recent window (default the last 30 days) is
compared with the trailing baseline before it (default the 90 days before that),
both as a rate per 30 days ("a month"):

* ``handovers`` — leads the partner accepted (a partner deal was created);
* ``stage_changes`` — the partner's own stage moves on its deals;
* ``wins`` — leads the partner won;
* ``reaction`` — the median days from hand-over to the partner's first stage move,
  for leads handed over in each period; slower is a decline (compared as speed).

A decline is reported when the activity fell by at least ``threshold`` (0.5: by half
or more) and the baseline held at least ``min_baseline`` events per month (so one
lead in three months is not a trend). 10 stage changes a month for three months,
then 2: ``stage changes: 2 vs 10/month baseline (−80 %)``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

MONTH = dt.timedelta(days=30)
_TENTH = Decimal("0.1")
_HUNDREDTH = Decimal("0.01")


class Activity(StrEnum):
    HANDOVERS = "handovers"
    STAGE_CHANGES = "stage_changes"
    WINS = "wins"
    REACTION = "reaction"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Activity.HANDOVERS: "hand-overs accepted",
    Activity.STAGE_CHANGES: "stage changes",
    Activity.WINS: "wins",
    Activity.REACTION: "days to first stage change",
}


@dataclass(frozen=True, slots=True)
class DeclineRule:
    """``alerts: decline:`` of mapping.yaml, compiled."""

    window: dt.timedelta = dt.timedelta(days=30)
    baseline: dt.timedelta = dt.timedelta(days=90)
    threshold: Decimal = Decimal("0.5")  # a fall by this share or more is a decline
    min_baseline: Decimal = Decimal(2)  # baseline events per 30 days below which: not judged
    activities: tuple[Activity, ...] = tuple(Activity)


@dataclass(frozen=True, slots=True)
class PartnerActivity:
    """What one partner did, as moments (any time; the rule picks the periods)."""

    partner_code: str
    handovers: tuple[dt.datetime, ...] = ()
    stage_changes: tuple[dt.datetime, ...] = ()
    wins: tuple[dt.datetime, ...] = ()
    reactions: tuple[tuple[dt.datetime, dt.datetime], ...] = ()  # (handed over, first move)


@dataclass(frozen=True, slots=True)
class Decline:
    """One activity of one partner that fell beyond the threshold, with its figures.

    ``recent`` and ``baseline`` are per 30 days (``reaction``: median days);
    ``change`` is the relative change, −0.80 for a fall by 80 % (``reaction``: of speed).
    """

    partner_code: str
    activity: Activity
    recent: Decimal
    baseline: Decimal
    change: Decimal
    window_days: int
    baseline_days: int
    recent_events: int  # events counted in the window (reaction: leads with a first move)
    baseline_events: int

    @property
    def slower(self) -> Decimal:
        """``reaction``: how many times slower than the baseline (3 for 1 → 3 days)."""
        return (self.recent / self.baseline).quantize(_TENTH, ROUND_HALF_UP)

    def describe(self) -> str:
        """``stage changes: 2 vs 10/month baseline (−80 %)`` (English; localised text:
        :func:`bridge.kpi.decline_text.decline_line`)."""
        if self.activity is Activity.REACTION:
            return (
                f"{self.activity.label}: {number(self.recent)} vs {number(self.baseline)} "
                f"baseline ({number(self.slower)}× slower, {percent(self.change)})"
            )
        return (
            f"{self.activity.label}: {number(self.recent)} vs {number(self.baseline)}/month "
            f"baseline ({percent(self.change)})"
        )


def number(value: Decimal) -> str:
    """``10`` for 10.0, ``2.5`` for 2.5: figures as a person writes them."""
    text = f"{value.quantize(_TENTH, ROUND_HALF_UP):f}"
    return text[:-2] if text.endswith(".0") else text


def percent(change: Decimal) -> str:
    """``−80 %`` (a real minus sign), ``+25 %``."""
    whole = (change * 100).quantize(Decimal(1), ROUND_HALF_UP)
    sign = "−" if whole < 0 else "+" if whole > 0 else ""
    return f"{sign}{abs(whole)} %"


@dataclass(frozen=True, slots=True)
class _Periods:
    recent_start: dt.datetime
    baseline_start: dt.datetime
    end: dt.datetime

    def recent(self, at: dt.datetime) -> bool:
        return self.recent_start <= at < self.end

    def base(self, at: dt.datetime) -> bool:
        return self.baseline_start <= at < self.recent_start


def declines(
    activities: Iterable[PartnerActivity], rule: DeclineRule, now: dt.datetime
) -> list[Decline]:
    """Every decline beyond the rule's threshold, by partner then activity."""
    periods = _Periods(now - rule.window, now - rule.window - rule.baseline, now)
    found: list[Decline] = []
    for partner in sorted(activities, key=lambda a: a.partner_code):
        for activity in rule.activities:
            decline = _judge(partner, activity, rule, periods)
            if decline is not None:
                found.append(decline)
    return found


def _judge(
    partner: PartnerActivity, activity: Activity, rule: DeclineRule, periods: _Periods
) -> Decline | None:
    if activity is Activity.REACTION:
        return _judge_reaction(partner, rule, periods)
    moments = {
        Activity.HANDOVERS: partner.handovers,
        Activity.STAGE_CHANGES: partner.stage_changes,
        Activity.WINS: partner.wins,
    }[activity]
    recent_n = sum(1 for at in moments if periods.recent(at))
    base_n = sum(1 for at in moments if periods.base(at))
    recent, base = _per_month(recent_n, rule.window), _per_month(base_n, rule.baseline)
    if base <= 0 or base < rule.min_baseline:
        return None
    change = ((recent - base) / base).quantize(_HUNDREDTH, ROUND_HALF_UP)
    if change > -rule.threshold:
        return None
    return _decline(partner, activity, recent, base, change, rule, (recent_n, base_n))


def _judge_reaction(
    partner: PartnerActivity, rule: DeclineRule, periods: _Periods
) -> Decline | None:
    recent = [_days(h, f) for h, f in partner.reactions if periods.recent(h)]
    base = [_days(h, f) for h, f in partner.reactions if periods.base(h)]
    if not recent or not base or _per_month(len(base), rule.baseline) < rule.min_baseline:
        return None
    recent_days, base_days = _median(recent), _median(base)
    if recent_days <= 0:
        return None
    speed = base_days / recent_days  # 1 → 3 days: a third of the speed
    change = (speed - 1).quantize(_HUNDREDTH, ROUND_HALF_UP)
    if change > -rule.threshold:
        return None
    counts = (len(recent), len(base))
    return _decline(partner, Activity.REACTION, recent_days, base_days, change, rule, counts)


def _decline(
    partner: PartnerActivity,
    activity: Activity,
    recent: Decimal,
    base: Decimal,
    change: Decimal,
    rule: DeclineRule,
    counts: tuple[int, int],
) -> Decline:
    return Decline(
        partner_code=partner.partner_code,
        activity=activity,
        recent=recent.quantize(_TENTH, ROUND_HALF_UP),
        baseline=base.quantize(_TENTH, ROUND_HALF_UP),
        change=change,
        window_days=rule.window.days,
        baseline_days=rule.baseline.days,
        recent_events=counts[0],
        baseline_events=counts[1],
    )


def _per_month(count: int, span: dt.timedelta) -> Decimal:
    return Decimal(count) * Decimal(MONTH.total_seconds()) / Decimal(span.total_seconds())


def _days(handed: dt.datetime, moved: dt.datetime) -> Decimal:
    return Decimal((moved - handed).total_seconds()) / Decimal(86400)


def _median(values: Sequence[Decimal]) -> Decimal:
    return Decimal(statistics.median(values))
