"""Stage maps, commission rules and policies: offline checks and defaults applied."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from babel.numbers import list_currencies

from bridge.mapping.compiled import Direction, Policies, RuleKind, UnmappedStage
from bridge.mapping.errors import KeyPath
from bridge.mapping.report import Reporter
from bridge.mapping.schema import CommissionSpec, PoliciesSpec, StagesSpec, Weekday
from bridge.mapping.spec import RuleSpecMerged, StageLink, StagesMapSpec

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_GENEROUS = Decimal(50)  # above this a commission is more likely a typo
_HUNDRED = Decimal(100)
_NEEDS_SOURCE = {RuleKind.PERCENT_OF_FEE: "fee_field", RuleKind.PERCENT_OF_PAYMENTS: "paid_field"}


def check_currency(value: str, path: KeyPath, out: Reporter) -> bool:
    if not _CURRENCY.match(value):
        out.error(path, f"'{value}' is not a currency code — write three capital letters, e.g. RUB")
        return False
    if value not in list_currencies():
        out.error(path, f"'{value}' is not an ISO 4217 currency — e.g. RUB, USD, KZT, EUR")
        return False
    return True


def build_stages(
    spec: StagesSpec, default: UnmappedStage | None, path: KeyPath, out: Reporter
) -> StagesMapSpec | None:
    links = [
        link
        for agency, value in spec.map.items()
        for link in _links(agency, value, (*path, "map", agency))
    ]
    ok = _check_back_links(links, out)
    for agency, value in spec.map.items():
        if value == []:
            message = "an empty list — name the partner stage(s) this agency stage maps to"
            out.error((*path, "map", agency), message)
            ok = False
    if not links:
        message = "the stage map is empty — map at least the won and lost stages under 'map:'"
        out.error(path, message, at_key=True)
        ok = False
    unmapped = spec.unmapped or default
    if unmapped is None:
        message = (
            "unmapped stages need an explicit choice — add 'unmapped: park' (hold those deals "
            "until the stage is mapped) or 'unmapped: ignore' (sync everything but the stage)"
        )
        out.error(path, message, at_key=True)
        return None
    if not ok:
        return None
    initial = str(spec.initial) if spec.initial is not None else None
    return StagesMapSpec(tuple(links), unmapped, path, initial)


def _links(agency: str, value: Any, path: KeyPath) -> list[StageLink]:
    if isinstance(value, list):
        if not value:
            return []
        first, *others = [str(v) for v in value]
        extra = [
            StageLink(agency, o, Direction.TO_AGENCY, (*path, i + 1)) for i, o in enumerate(others)
        ]
        return [StageLink(agency, first, Direction.BOTH, (*path, 0)), *extra]
    if isinstance(value, str | int):
        return [StageLink(agency, str(value), Direction.BOTH, path)]
    return [StageLink(agency, str(value.partner), value.direction, path)]


def _check_back_links(links: list[StageLink], out: Reporter) -> bool:
    """A partner stage can map back to one agency stage only."""
    back: dict[str, StageLink] = {}
    ok = True
    for link in links:
        if link.direction is Direction.TO_PARTNER:
            continue
        first = back.setdefault(link.partner.casefold(), link)
        if first is not link:
            message = (
                f"contradictory directions: partner stage '{link.partner}' maps back to both "
                f"'{first.agency}' and '{link.agency}' — make one of them one-way: "
                f"{{partner: {link.partner}, direction: to_partner}}"
            )
            out.error(link.path, message)
            ok = False
    return ok


def build_rules(
    spec: CommissionSpec | None, currency: str, path: KeyPath, out: Reporter
) -> tuple[RuleSpecMerged, ...]:
    if spec is None:
        return ()
    if spec.currency is not None:
        check_currency(spec.currency, (*path, "currency"), out)
    currency = spec.currency or currency
    _non_negative(spec.hold_days, (*path, "hold_days"), out)
    if spec.membership_fee is not None and spec.membership_fee < 0:
        out.error((*path, "membership_fee"), "membership_fee must not be negative")
    rules = []
    for index, rule in enumerate(spec.rules):
        rule_path = (*path, "rules", index)
        rate = _rate(rule.percent, (*rule_path, "percent"), out)
        source = _rule_source(rule.kind, rule.fee_field, rule.paid_field, rule_path, out)
        _non_negative(rule.due_days, (*rule_path, "due_days"), out)
        if rate is not None:
            merged = RuleSpecMerged(
                rule.kind,
                rate,
                rule.payer,
                currency,
                rule_path,
                source,
                rule.due_days,
                spec.hold_days,
            )
            rules.append(merged)
    return tuple(rules)


def _rate(percent: Decimal, path: KeyPath, out: Reporter) -> Decimal | None:
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


def _rule_source(kind: RuleKind, fee: Any, paid: Any, path: KeyPath, out: Reporter) -> str | None:
    given = {"fee_field": fee, "paid_field": paid}
    wanted = _NEEDS_SOURCE.get(kind)
    for key, value in given.items():
        if value is not None and key != wanted:
            out.error(
                (*path, key), f"'{key}' does not apply to {kind.value} — remove it", at_key=True
            )
    if wanted is None:
        return None
    if given[wanted] is None:
        what = "fee" if wanted == "fee_field" else "cumulative paid amount"
        message = f"{kind.value} needs '{wanted}:' — the agency field holding the {what}"
        out.error(path, message)
        return None
    return str(given[wanted])


def _non_negative(value: int, path: KeyPath, out: Reporter) -> None:
    if value < 0:
        out.error(path, f"{value} is negative — write 0 or a positive number of days")


def build_policies(
    base: Policies, layers: list[tuple[PoliciesSpec, KeyPath]], out: Reporter
) -> Policies:
    values: dict[str, Any] = {}
    for spec, path in layers:
        for key in spec.model_fields_set:
            converted = _policy_value(key, getattr(spec, key), (*path, key), out)
            if converted is not None:
                values[_POLICY_FIELD.get(key, key)] = converted
    return Policies(**{**_as_dict(base), **values})


_POLICY_FIELD = {
    "reconcile_at": "reconcile_at",
    "stale_after_days": "stale_after",
    "digest_day": "digest_weekday",
    "channel_conflict_days": "channel_conflict_window",
}


def _as_dict(policies: Policies) -> dict[str, Any]:
    return {name: getattr(policies, name) for name in Policies.__dataclass_fields__}


def _policy_value(key: str, value: Any, path: KeyPath, out: Reporter) -> Any:
    if value is None:
        return None
    if key in ("stale_after_days", "channel_conflict_days"):
        return _days(value, path, out)
    if key == "digest_day":
        return list(Weekday).index(value)
    convert = _CONVERTERS.get(key)
    return convert(value, path, out) if convert is not None else value


def _history(value: str, path: KeyPath, out: Reporter) -> str | dt.date | None:
    text = value.strip()
    if text in ("open", "all"):
        return text
    if _ISO_DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    out.error(
        path,
        f"'{value}' is not a history policy — write open (hand over open deals only), all, "
        'or a date "YYYY-MM-DD" (closed deals created on or after it are handed over too)',
    )
    return None


def _jump(value: int | Decimal, path: KeyPath, out: Reporter) -> Decimal | None:
    factor = Decimal(value)
    if not factor.is_finite() or factor <= 0:
        out.error(path, f"{value} is not a factor — write a positive number, e.g. 2 (× the amount)")
        return None
    return factor


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _days(value: int, path: KeyPath, out: Reporter) -> dt.timedelta | None:
    if value < 1:
        out.error(path, f"{value} is too small — write a number of days, at least 1")
        return None
    return dt.timedelta(days=value)


def _duration(value: Any, path: KeyPath, out: Reporter) -> dt.timedelta | None:
    seconds: int | None = value if isinstance(value, int) else None
    match = _DURATION.match(str(value).strip())
    if match:
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds is None or seconds < 10:
        message = f"'{value}' is not a poll interval — write seconds (60) or '90s', '5m', '1h'; "
        out.error(path, message + "at least 10 seconds")
        return None
    return dt.timedelta(seconds=seconds)


def _clock(value: str, path: KeyPath, out: Reporter) -> dt.time | None:
    match = _CLOCK.match(value.strip())
    if not match:
        out.error(path, f'\'{value}\' is not a time of day — write "HH:MM" in quotes, e.g. "03:00"')
        return None
    return dt.time(int(match.group(1)), int(match.group(2)))


_CONVERTERS: dict[str, Callable[[Any, KeyPath, Reporter], Any]] = {
    "poll_interval": _duration,
    "reconcile_at": _clock,
    "history": _history,
    "max_payment_jump": _jump,
}
