"""A decline alert as a manager reads it, in the programme's language (bridge.notices)."""

from __future__ import annotations

from bridge.kpi.decline import Activity, Decline, number, percent
from bridge.notices import Notices


def decline_line(decline: Decline, notices: Notices) -> str:
    """``смены стадий: 2 против 10 в месяц обычно (−80 %)`` /
    ``stage changes: 2 vs 10/month baseline (−80 %)``."""
    values = {
        "activity": notices.render(f"activity_{decline.activity.value}"),
        "recent": number(decline.recent),
        "usual": number(decline.baseline),
        "change": percent(decline.change),
    }
    if decline.activity is Activity.REACTION:
        return notices.render("decline_reaction", slower=number(decline.slower), **values)
    return notices.render("decline_rate", **values)


def declines_title(window_days: int, baseline_days: int, notices: Notices) -> str:
    return notices.render("digest_declines", window=window_days, baseline=baseline_days)
