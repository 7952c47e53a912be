"""Offline checks of the payout keys: ``payouts:`` (the schedule), ``legal:`` (bank
details for the registry), ``parent:`` / ``override:`` (two-level programmes)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from bridge.mapping.compiled import Legal, Override, PayoutSchedule, ScheduleKind
from bridge.mapping.errors import KeyPath
from bridge.mapping.report import Reporter
from bridge.mapping.schema import LegalSpec, PartnerSpec, PayoutsSpec, Weekday
from bridge.mapping.tiers_spec import rate_of

_WITHIN = re.compile(r"^(\d+)\s*d$")
_DIGITS = {
    "inn": (10, 12),
    "kpp": (9,),
    "account": (20,),
    "bic": (9,),
    "correspondent_account": (20,),
}


def build_payouts(spec: PayoutsSpec | None, path: KeyPath, out: Reporter) -> PayoutSchedule | None:
    if spec is None:
        return None
    given = [k for k in ("within", "weekly", "twice_monthly") if getattr(spec, k) is not None]
    if len(given) != 1:
        message = (
            "a payout schedule needs exactly one of within: 3d, weekly: friday, "
            f"twice_monthly: [1, 15] — found {', '.join(given) or 'none'}"
        )
        out.error(path, message, at_key=True)
        return None
    minimum = _minimum(spec.minimum, (*path, "minimum"), out)
    kind = ScheduleKind(given[0])
    base = PayoutSchedule(kind, minimum=minimum, netting=spec.netting)
    if spec.within is not None:
        days = _within(spec.within, (*path, "within"), out)
        return None if days is None else replace(base, within_days=days)
    if spec.weekly is not None:
        return replace(base, weekday=list(Weekday).index(spec.weekly))
    assert spec.twice_monthly is not None
    days_of_month = _twice(spec.twice_monthly, (*path, "twice_monthly"), out)
    return None if days_of_month is None else replace(base, days=days_of_month)


def _within(value: str | int, path: KeyPath, out: Reporter) -> int | None:
    match = _WITHIN.match(str(value).strip())
    if isinstance(value, int) or match is None:
        out.error(path, f"'{value}' is not a number of days — write e.g. 3d (3 days)")
        return None
    return int(match.group(1))


def _twice(days: list[int], path: KeyPath, out: Reporter) -> tuple[int, ...] | None:
    if len(days) != 2 or len(set(days)) != 2:
        out.error(path, f"{days} — write two different days of the month, e.g. [1, 15]")
        return None
    bad = [d for d in days if not 1 <= d <= 31]
    if bad:
        out.error(path, f"{bad[0]} is not a day of the month — write 1 … 31 (31: the month's last)")
        return None
    return tuple(sorted(days))


def _minimum(value: int | Decimal | None, path: KeyPath, out: Reporter) -> Decimal | None:
    if value is None:
        return None
    amount = Decimal(value)
    if not amount.is_finite() or amount <= 0:
        out.error(path, f"minimum {value} — write a positive amount, or remove it for no minimum")
        return None
    return amount


def build_legal(spec: LegalSpec | None, path: KeyPath, out: Reporter) -> Legal | None:
    if spec is None:
        return None
    if not spec.name.strip():
        out.error((*path, "name"), "the legal name is empty — write it as on the contract")
    values: dict[str, str | None] = {}
    for key, lengths in _DIGITS.items():
        raw = getattr(spec, key)
        text = None if raw is None else str(raw).strip()
        if text is not None and (not text.isdigit() or len(text) not in lengths):
            wanted = " or ".join(str(n) for n in lengths)
            message = f"{key} '{text}' must be {wanted} digits — write it in quotes, e.g. \"0123…\""
            out.error((*path, key), message)
        values[key] = text
    return Legal(name=spec.name.strip(), bank=spec.bank, **values)


def build_overrides(partners: Mapping[str, PartnerSpec], out: Reporter) -> dict[str, Override]:
    """Child code → what its parent earns from it; checks ``parent:`` and ``override:``."""
    found: dict[str, Override] = {}
    children: set[str] = set()
    for code, spec in partners.items():
        if spec.parent is None:
            continue
        path = ("partners", code, "parent")
        parent = partners.get(spec.parent)
        if spec.parent == code:
            out.error(path, f"partner '{code}' cannot be its own parent")
            continue
        if parent is None:
            known = ", ".join(sorted(partners)) or "(none)"
            out.error(path, f"parent '{spec.parent}' is not a partner code here; codes: {known}")
            continue
        if parent.parent is not None:
            message = (
                f"'{spec.parent}' has a parent itself ('{parent.parent}') — two levels only: "
                "a parent earns from its own children, not from grandchildren"
            )
            out.error(path, message)
            continue
        if parent.override is None:
            message = (
                f"parent '{spec.parent}' has no 'override:' — add under partners.{spec.parent}: "
                "override: {percent: 5, of: commission, payer: agency}"
            )
            out.error(path, message)
            continue
        over = parent.override
        rate = rate_of(over.percent, ("partners", spec.parent, "override", "percent"), out)
        if rate is not None:
            found[code] = Override(spec.parent, rate, over.of.value, over.payer)
            children.add(spec.parent)
    for code, spec in partners.items():
        if spec.override is not None and code not in children and spec.parent is None:
            message = f"no partner names '{code}' as its parent — this override earns nothing"
            out.warn(("partners", code, "override"), message, at_key=True)
    return found
