"""Stage maps, commission rules and policies: offline checks and defaults applied."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from babel.numbers import list_currencies

from bridge.mapping.compiled import Direction, FanOut, Policies, RuleKind, UnmappedStage
from bridge.mapping.errors import KeyPath, dotted
from bridge.mapping.report import Reporter
from bridge.mapping.schema import CommissionSpec, FanOutSpec, PoliciesSpec, StagesSpec, Weekday
from bridge.mapping.spec import RuleSpecMerged, StageLink, StagesMapSpec
from bridge.mapping.tiers_spec import overlap, rule_rate, rule_window

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
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
        rate, tiers = rule_rate(rule, rule_path, out)
        source = _rule_source(rule.kind, rule.fee_field, rule.paid_field, rule_path, out)
        _non_negative(rule.due_days, (*rule_path, "due_days"), out)
        since, until = rule_window(rule, rule_path, out)
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
                tiers,
                since,
                until,
            )
            rules.append(merged)
    _check_windows(rules, out)
    return tuple(rules)


def _check_windows(rules: list[RuleSpecMerged], out: Reporter) -> None:
    """Two rules of one kind and payer must not govern the same day (that would book twice)."""
    for i, first in enumerate(rules):
        for second in rules[i + 1 :]:
            if (first.kind, first.payer) != (second.kind, second.payer):
                continue
            dated = (first.since, first.until, second.since, second.until)
            if all(d is None for d in dated):
                continue  # two undated rules of a kind: the programme's own business
            if overlap(first.since, first.until, second.since, second.until):
                message = (
                    f"this {second.kind.value} rule overlaps rule {dotted(first.path)} in time — "
                    "give the old rule 'until:' and this one 'from:' the same date, so each "
                    "win or payment falls under exactly one"
                )
                out.warn(second.path, message)


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
    "round": "amount_rounding",
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


def _ratings_by(value: str, path: KeyPath, out: Reporter) -> str | None:
    """A KPI the rating can rank by: the names ``bridge kpi --rank-by`` takes."""
    from bridge.kpi.rank import RANKINGS  # the KPIs module reads the compiled mapping

    if value in RANKINGS:
        return value
    out.error(path, f"'{value}' is not a KPI to rank by — write one of {', '.join(RANKINGS)}")
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


def _fan_out(value: FanOutSpec, path: KeyPath, out: Reporter) -> FanOut:
    """The keys given; the others keep their defaults (Literal types validated them)."""
    return FanOut(**{key: getattr(value, key) for key in value.model_fields_set})


_CONVERTERS: dict[str, Callable[[Any, KeyPath, Reporter], Any]] = {
    "fan_out": _fan_out,
    "poll_interval": _duration,
    "reconcile_at": _clock,
    "history": _history,
    "max_payment_jump": _jump,
    "ratings_by": _ratings_by,
}
