"""Offline checks of a rule's percent: a flat ``percent:`` or progressive ``tiers:``,
and its effective dates (``from:`` / ``until:``)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from bridge.mapping.compiled import Tier, TierBy, TierMode, Tiers
from bridge.mapping.errors import KeyPath
from bridge.mapping.report import Reporter
from bridge.mapping.schema import RuleSpec, TierSpec

_GENEROUS = Decimal(50)  # above this a commission is more likely a typo
_HUNDRED = Decimal(100)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def rate_of(percent: Decimal, path: KeyPath, out: Reporter) -> Decimal | None:
    """``percent`` (25 means 25 %) as a fraction, or None after reporting why not."""
    if not percent.is_finite() or percent <= 0 or percent > _HUNDRED:
        message = (
            f"percent {percent} is out of range — write a number above 0 and at most 100 "
            "(25 means 25 %)"
        )
        out.error(path, message)
        return None
    if percent > _GENEROUS:
        out.warn(
            path,
            f"percent {percent} gives away more than half of the base — check it (25 means 25 %)",
        )
    if percent < 1:
        out.warn(
            path,
            f"percent {percent} means {percent} % — if you meant {percent * 100} %, "
            f"write {percent * 100}",
        )
    return percent / _HUNDRED


def rule_rate(rule: RuleSpec, path: KeyPath, out: Reporter) -> tuple[Decimal | None, Tiers | None]:
    """The flat rate (for tiers: the first tier's) and the tiers, if any."""
    tier_keys = {"tier_by": rule.tier_by, "mode": rule.mode, "period": rule.period}
    if rule.tiers is None:
        for key, value in tier_keys.items():
            if value is not None:
                out.error(
                    (*path, key), f"'{key}' applies only with 'tiers:' — remove it", at_key=True
                )
        if rule.percent is None:
            message = "a rule needs 'percent:' (25 means 25 %) or 'tiers:' (a progressive percent)"
            out.error(path, message)
            return None, None
        return rate_of(rule.percent, (*path, "percent"), out), None
    if rule.percent is not None:
        message = "give either 'percent:' or 'tiers:', not both — each tier has its own percent"
        out.error((*path, "percent"), message, at_key=True)
        return None, None
    tiers = _tiers(rule, path, out)
    return (tiers.tiers[0].rate if tiers else None), tiers


def _tiers(rule: RuleSpec, path: KeyPath, out: Reporter) -> Tiers | None:
    assert rule.tiers is not None
    tiers_path = (*path, "tiers")
    by = rule.tier_by or TierBy.DEAL_AMOUNT
    ok = True
    if rule.mode is None:
        message = (
            "tiers need 'mode:' — marginal (each slice of the base at its tier's percent) "
            "or whole (the whole base at the percent of the tier it reaches)"
        )
        out.error(path, message)
        ok = False
    if by is TierBy.DEAL_AMOUNT and rule.period is not None:
        message = "'period' applies to tier_by: won_amount or won_count — remove it"
        out.error((*path, "period"), message, at_key=True)
        ok = False
    if by is not TierBy.DEAL_AMOUNT and rule.period is None:
        message = f"tier_by: {by.value} needs 'period:' — month, quarter or year"
        out.error(path, message)
        ok = False
    if by is TierBy.WON_COUNT and rule.mode is TierMode.MARGINAL:
        message = (
            "tier_by: won_count works with mode: whole only — a deal count has no slices "
            "(the deal that reaches a tier and later ones earn its percent)"
        )
        out.error((*path, "mode"), message)
        ok = False
    parsed = _tier_list(rule.tiers, tiers_path, by, out)
    if parsed is None or not ok or rule.mode is None:
        return None
    return Tiers(parsed, rule.mode, by, rule.period)


def _tier_list(
    specs: list[TierSpec], path: KeyPath, by: TierBy, out: Reporter
) -> tuple[Tier, ...] | None:
    if not specs:
        out.error(path, "an empty tier list — write at least two tiers, or use 'percent:'")
        return None
    tiers: list[Tier] = []
    ok = True
    previous = Decimal(0)
    for index, spec in enumerate(specs):
        rate = rate_of(spec.percent, (*path, index, "percent"), out)
        last = index == len(specs) - 1
        bound = None if spec.up_to is None else Decimal(spec.up_to)
        if bound is None and not last:
            out.error((*path, index), "only the last tier may omit 'up_to:'")
            ok = False
        elif bound is not None and last:
            message = f"the last tier must have no 'up_to:' ({bound} caps nothing above it)"
            out.error((*path, index, "up_to"), message)
            ok = False
        elif bound is not None and bound <= previous:
            message = f"up_to {bound} must be above the previous tier's bound {previous}"
            out.error((*path, index, "up_to"), message)
            ok = False
        elif bound is not None and by is TierBy.WON_COUNT and bound != bound.to_integral():
            out.error((*path, index, "up_to"), f"up_to {bound} is not a whole number of deals")
            ok = False
        if bound is not None:
            previous = bound
        if rate is None:
            ok = False
        else:
            tiers.append(Tier(bound, rate))
    return tuple(tiers) if ok else None


def rule_window(
    rule: RuleSpec, path: KeyPath, out: Reporter
) -> tuple[dt.date | None, dt.date | None]:
    since = _date(rule.from_, (*path, "from"), out)
    until = _date(rule.until, (*path, "until"), out)
    if since is not None and until is not None and until <= since:
        out.error((*path, "until"), f"until {until} is not after from {since} — swap or fix them")
    return since, until


def _date(text: str | None, path: KeyPath, out: Reporter) -> dt.date | None:
    if text is None:
        return None
    if _ISO_DATE.match(text.strip()):
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            pass
    out.error(path, f'\'{text}\' is not a date — write "YYYY-MM-DD" in quotes, e.g. "2026-10-01"')
    return None


def overlap(
    a_from: dt.date | None, a_until: dt.date | None, b_from: dt.date | None, b_until: dt.date | None
) -> bool:
    """Whether two half-open date windows (None: unbounded) share a day."""
    low = max(a_from or dt.date.min, b_from or dt.date.min)
    high = min(a_until or dt.date.max, b_until or dt.date.max)
    return low < high
