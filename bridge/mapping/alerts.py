"""``alerts:`` of mapping.yaml → compiled alert rules, every mistake with its line.

``alerts: decline:`` compares each partner's recent activity with its own past
(:mod:`bridge.kpi.decline`); absent, no decline alerts are raised.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from bridge.kpi.decline import Activity, DeclineRule
from bridge.mapping.errors import KeyPath
from bridge.mapping.report import Reporter
from bridge.mapping.schema import AlertsSpec, DeclineSpec

_SPAN = re.compile(r"^(\d+)\s*([dw])$")
_PATH: KeyPath = ("alerts", "decline")


def build_alerts(spec: AlertsSpec | None, out: Reporter) -> DeclineRule | None:
    """The decline rule, or None when ``alerts.decline`` is absent or has a mistake."""
    if spec is None or spec.decline is None:
        return None
    return _decline(spec.decline, out)


def _decline(spec: DeclineSpec, out: Reporter) -> DeclineRule | None:
    default = DeclineRule()
    before = len(out.errors)
    window = _span(spec.window, "window", default.window, out)
    baseline = _span(spec.baseline, "baseline", default.baseline, out)
    threshold = _threshold(spec.threshold, out, default.threshold)
    floor = _floor(spec.min_baseline, out, default.min_baseline)
    activities = tuple(Activity(a) for a in spec.activities) if spec.activities else ()
    if spec.activities is not None and not activities:
        out.error((*_PATH, "activities"), _empty_activities())
    if window is not None and baseline is not None and baseline < window:
        message = (
            f"baseline {baseline.days}d is shorter than the window {window.days}d — the "
            "baseline is the partner's normal, e.g. window: 30d, baseline: 90d"
        )
        out.error((*_PATH, "baseline"), message)
    if len(out.errors) > before or window is None or baseline is None:
        return None
    assert threshold is not None and floor is not None
    return DeclineRule(window, baseline, threshold, floor, activities or default.activities)


def _span(
    value: str | int | None, key: str, default: dt.timedelta, out: Reporter
) -> dt.timedelta | None:
    if value is None:
        return default
    days: int | None = value if isinstance(value, int) else None
    match = _SPAN.match(str(value).strip())
    if match:
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
    if days is None or days < 1:
        message = f"'{value}' is not a period — write days: 30, '30d' or weeks: '4w' (at least 1d)"
        out.error((*_PATH, key), message)
        return None
    return dt.timedelta(days=days)


def _threshold(value: Decimal | int | None, out: Reporter, default: Decimal) -> Decimal | None:
    if value is None:
        return default
    share = Decimal(value)
    if share.is_finite() and 1 < share < 100:
        hint = f"write {share / 100} for a fall by {share} %"
        out.error((*_PATH, "threshold"), f"{value} is not a share — {hint}")
        return None
    if not share.is_finite() or not 0 < share < 1:
        message = f"{value} is not a share between 0 and 1 — write 0.5 to alert on a fall by half"
        out.error((*_PATH, "threshold"), message)
        return None
    return share


def _floor(value: Decimal | int | None, out: Reporter, default: Decimal) -> Decimal | None:
    if value is None:
        return default
    floor = Decimal(value)
    if not floor.is_finite() or floor < 0:
        message = f"{value} is not a count — write events per 30 days, e.g. 2 (0: judge all)"
        out.error((*_PATH, "min_baseline"), message)
        return None
    return floor


def _empty_activities() -> str:
    names = ", ".join(a.value for a in Activity)
    return f"no activities — list some of {names}, or drop the key to watch them all"
