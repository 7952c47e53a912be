"""Activity decline, pure: worked figures (bridge/kpi/decline.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bridge.kpi.decline import Activity, DeclineRule, PartnerActivity, declines

NOW = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _spread(count: int, start: dt.datetime, days: int) -> tuple[dt.datetime, ...]:
    """``count`` moments evenly inside ``[start, start + days)``."""
    step = dt.timedelta(days=days) / count
    return tuple(start + step * n + dt.timedelta(hours=1) for n in range(count))


def _ten_a_month_then(recent: int) -> tuple[dt.datetime, ...]:
    baseline = _spread(30, NOW - 120 * DAY, 90)  # 10 a month for 3 months
    return baseline + (_spread(recent, NOW - 30 * DAY, 30) if recent else ())


def test_ten_stage_changes_a_month_then_two_is_an_80_percent_decline() -> None:
    partner = PartnerActivity("alfa", stage_changes=_ten_a_month_then(2))
    (found,) = declines([partner], DeclineRule(), NOW)
    assert (found.activity, found.recent, found.baseline) == (
        Activity.STAGE_CHANGES,
        Decimal("2.0"),
        Decimal("10.0"),
    )
    assert found.change == Decimal("-0.80")
    assert (found.recent_events, found.baseline_events) == (2, 30)
    assert found.describe() == "stage changes: 2 vs 10/month baseline (−80 %)"


def test_a_fall_short_of_the_threshold_is_no_alert() -> None:
    steady = PartnerActivity("beta", stage_changes=_ten_a_month_then(6))  # −40 %
    assert declines([steady], DeclineRule(), NOW) == []
    (found,) = declines([steady], DeclineRule(threshold=Decimal("0.4")), NOW)
    assert found.change == Decimal("-0.40")


def test_a_thin_baseline_is_not_judged_and_nothing_is_a_full_stop() -> None:
    thin = PartnerActivity("gamma", wins=(NOW - 100 * DAY, NOW - 70 * DAY))  # 0.7 a month
    assert declines([thin], DeclineRule(), NOW) == []
    stopped = PartnerActivity("delta", handovers=_ten_a_month_then(0))
    (found,) = declines([stopped], DeclineRule(), NOW)
    assert found.describe() == "hand-overs accepted: 0 vs 10/month baseline (−100 %)"


def test_reaction_three_times_slower_is_a_decline_in_speed() -> None:
    handed = _spread(9, NOW - 120 * DAY, 90) + _spread(3, NOW - 30 * DAY, 25)
    reactions = tuple(
        (h, h + (3 * DAY if h >= NOW - 30 * DAY else DAY)) for h in handed
    )  # 1 day to the first move in the baseline, 3 days now
    partner = PartnerActivity("alfa", reactions=reactions)
    rule = DeclineRule(min_baseline=Decimal(1))
    (found,) = declines([partner], rule, NOW)
    assert (found.activity, found.recent, found.baseline) == (
        Activity.REACTION,
        Decimal("3.0"),
        Decimal("1.0"),
    )
    assert found.describe() == "days to first stage change: 3 vs 1 baseline (3× slower, −67 %)"


def test_only_the_chosen_activities_and_partners_in_order() -> None:
    falling = _ten_a_month_then(1)
    partners = [
        PartnerActivity("zeta", wins=falling, stage_changes=falling),
        PartnerActivity("alfa", handovers=falling),
    ]
    found = declines(partners, DeclineRule(activities=(Activity.WINS, Activity.HANDOVERS)), NOW)
    assert [(d.partner_code, d.activity) for d in found] == [
        ("alfa", Activity.HANDOVERS),
        ("zeta", Activity.WINS),
    ]
