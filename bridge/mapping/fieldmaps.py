"""Field maps: merge partner overrides over the defaults, then check each and the set.

A partner entry overrides the default entry of the same name key by key, so
``amount: {owner: agency}`` changes only the owner; ``brief: null`` drops the
default for that partner, and ``amount: null`` leaves the deal amount unmirrored
(:func:`amount_dropped`). Problems point at the line the offending key came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from bridge.mapping.compiled import ConverterKind, Direction, Side
from bridge.mapping.errors import KeyPath
from bridge.mapping.report import Reporter
from bridge.mapping.schema import FieldSpec
from bridge.mapping.spec import FieldMapSpec

# What each standard target holds, and the converters that can carry it.
_FITS: dict[str, frozenset[ConverterKind]] = {
    "title": frozenset({ConverterKind.TEXT}),
    "amount": frozenset({ConverterKind.MONEY, ConverterKind.NUMBER}),
    "responsible": frozenset({ConverterKind.USER}),
    "contact.name": frozenset({ConverterKind.TEXT}),
    "contact.phone": frozenset({ConverterKind.PHONE}),
    "contact.email": frozenset({ConverterKind.EMAIL}),
    "company.name": frozenset({ConverterKind.TEXT}),
    "company.tax_id": frozenset({ConverterKind.TEXT}),
}
_DEFAULT_CONVERTER = {
    "amount": ConverterKind.MONEY,
    "responsible": ConverterKind.USER,
    "contact.phone": ConverterKind.PHONE,
    "contact.email": ConverterKind.EMAIL,
}
AMOUNT = "amount"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TABLE_CONVERTERS = (ConverterKind.ENUM, ConverterKind.USER)


class _Merged:
    """One field map's keys, each with the path it was written at."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: dict[str, Any] = {}
        self.origin: dict[str, KeyPath] = {}
        self.path: KeyPath = ()

    def layer(self, spec: FieldSpec, path: KeyPath) -> None:
        self.path = path
        for key in spec.model_fields_set:
            self.values[key] = getattr(spec, key)
            self.origin[key] = (*path, key)

    def at(self, key: str) -> KeyPath:
        return self.origin.get(key, self.path)


def merge_fields(
    defaults: Mapping[str, FieldSpec],
    overrides: Mapping[str, FieldSpec | None],
    partner_path: KeyPath,
    out: Reporter,
) -> tuple[FieldMapSpec, ...]:
    """The partner's effective field maps, every problem reported to ``out``."""
    result = []
    for name in dict.fromkeys([*defaults, *overrides]):
        if name in overrides and overrides[name] is None:
            continue  # the partner dropped this default
        merged = _Merged(name)
        if name in defaults:
            merged.layer(defaults[name], ("defaults", "fields", name))
        override = overrides.get(name)
        if override is not None:
            merged.layer(override, (*partner_path, "fields", name))
        field_map = _check_one(merged, out)
        if field_map is not None:
            result.append(field_map)
    _check_twice(result, out)
    return tuple(result)


def amount_dropped(
    defaults: Mapping[str, FieldSpec],
    overrides: Mapping[str, FieldSpec | None],
    maps: tuple[FieldMapSpec, ...],
) -> bool:
    """The partner left the deal amount unmapped on purpose: ``fields: {amount: null}``
    (or null on another map of the amount) and no remaining map carries it. The bridge
    then does not mirror the amount at all — it is not added back as a built-in."""
    dropped = [name for name, spec in overrides.items() if spec is None]
    targets_amount = any(
        name == AMOUNT
        or (name in defaults and AMOUNT in (defaults[name].agency, defaults[name].partner))
        for name in dropped
    )
    still = any(AMOUNT in (m.agency, m.partner) for m in maps)
    return targets_amount and not still


def _check_one(merged: _Merged, out: Reporter) -> FieldMapSpec | None:
    values = merged.values
    ok = _require(merged, "agency", "the agency field (title, amount, … or a custom field)", out)
    ok = _require(merged, "partner", "the partner field", out) and ok
    ok = _require(merged, "direction", "to_partner, to_agency or both", out) and ok
    if not ok:
        return None
    agency, partner = str(values["agency"]), str(values["partner"])
    direction: Direction = values["direction"]
    owner: Side | None = values.get("owner")
    ok = _check_owner(merged, direction, owner, out)
    converter = values.get("converter") or _default_converter(agency, partner)
    ok = _check_converter(merged, converter, (agency, partner), out) and ok
    ok = _check_extras(merged, converter, out) and ok
    ok = _check_default(merged, converter, direction, out) and ok
    if not ok:
        return None
    table = {str(k): str(v) for k, v in (values.get("values") or {}).items()}
    return FieldMapSpec(
        name=merged.name,
        agency=agency,
        partner=partner,
        direction=direction,
        converter=converter,
        path=merged.path,
        owner=owner,
        values=table,
        currency=values.get("currency"),
        default=values.get("default"),
    )


def _require(merged: _Merged, key: str, what: str, out: Reporter) -> bool:
    if merged.values.get(key) is not None:
        return True
    out.error(merged.path, f"field map needs '{key}:' — {what}", at_key=True)
    return False


def _check_owner(merged: _Merged, direction: Direction, owner: Side | None, out: Reporter) -> bool:
    if direction is Direction.BOTH and owner is None:
        message = (
            "direction 'both' needs an owner — add 'owner: agency' or 'owner: partner' "
            "(whose value wins when both sides changed it)"
        )
        out.error(merged.at("direction"), message)
        return False
    loser = {Direction.TO_PARTNER: Side.PARTNER, Direction.TO_AGENCY: Side.AGENCY}.get(direction)
    if owner is not None and owner is loser:
        message = (
            f"owner '{owner.value}' contradicts direction '{direction.value}' (the value only "
            f"flows from the other side) — use 'direction: both', or drop 'owner'"
        )
        out.error(merged.at("owner"), message)
        return False
    return True


def _default_converter(agency: str, partner: str) -> ConverterKind:
    for target in (agency, partner):
        if target in _DEFAULT_CONVERTER:
            return _DEFAULT_CONVERTER[target]
    return ConverterKind.TEXT


def _check_converter(
    merged: _Merged, converter: ConverterKind, ends: tuple[str, str], out: Reporter
) -> bool:
    for end in ends:
        fits = _FITS.get(end)
        if fits is not None and converter not in fits:
            right = " or ".join(f"'{c.value}'" for c in sorted(fits))
            message = f"converter '{converter.value}' does not fit '{end}' — use {right}"
            out.error(merged.at("converter"), message)
            return False
    return True


def _check_extras(merged: _Merged, converter: ConverterKind, out: Reporter) -> bool:
    values, ok = merged.values, True
    if converter is ConverterKind.ENUM and not values.get("values"):
        message = "converter 'enum' needs 'values:' — a table of agency value: partner value"
        out.error(merged.at("converter"), message)
        ok = False
    if converter is ConverterKind.USER and not values.get("values"):
        message = (
            "no 'values:' table for the user converter — responsible users will not be "
            "translated; add 'values: {agency user id: partner user id}'"
        )
        out.warn(merged.path, message, at_key=True)
    if values.get("values") and converter not in _TABLE_CONVERTERS:
        message = (
            f"'values' only applies to the enum and user converters, not '{converter.value}' "
            "— remove it, or set 'converter: enum'"
        )
        out.error(merged.at("values"), message, at_key=True)
        ok = False
    if values.get("currency") is not None and converter is not ConverterKind.MONEY:
        message = "'currency' only applies to the money converter — remove it"
        out.error(merged.at("currency"), message, at_key=True)
        ok = False
    return ok


def _is_number(value: object) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


_DEFAULT_FITS: dict[ConverterKind, tuple[Callable[[object], bool], str]] = {
    ConverterKind.MONEY: (_is_number, "a number (e.g. 0)"),
    ConverterKind.NUMBER: (_is_number, "a number (e.g. 0)"),
    ConverterKind.DATE: (
        lambda v: isinstance(v, str) and bool(_ISO_DATE.match(v)),
        'a date in quotes, "YYYY-MM-DD"',
    ),
    ConverterKind.EMAIL: (lambda v: isinstance(v, str) and "@" in v, "an e-mail address"),
}


def _default_problem(value: object, converter: ConverterKind, table: object) -> str | None:
    if converter is ConverterKind.ENUM:
        fits = isinstance(table, dict) and str(value) in table
        return None if fits else "one of the agency values in 'values:'"
    check, wanted = _DEFAULT_FITS.get(converter, (lambda v: True, ""))
    return None if check(value) else wanted


def _check_default(
    merged: _Merged, converter: ConverterKind, direction: Direction, out: Reporter
) -> bool:
    if "default" not in merged.values or merged.values["default"] is None:
        return True
    if direction is Direction.BOTH:
        message = "'default' is not used with direction 'both' (either side's value counts)"
        out.warn(merged.at("default"), message + " — remove it")
        return True
    value = merged.values["default"]
    wanted = _default_problem(value, converter, merged.values.get("values"))
    if wanted is None:
        return True
    message = f"default {value!r} does not fit converter '{converter.value}' — write {wanted}"
    out.error(merged.at("default"), message)
    return False


def _check_twice(maps: list[FieldMapSpec], out: Reporter) -> None:
    """Two maps writing the same field would overwrite each other on every pass."""
    writers: dict[tuple[Side, str], FieldMapSpec] = {}
    for field_map in maps:
        for side, end in ((Side.AGENCY, field_map.agency), (Side.PARTNER, field_map.partner)):
            if not _writes(field_map, side):
                continue
            first = writers.setdefault((side, end.casefold()), field_map)
            if first is not field_map:
                message = (
                    f"{side.value} field '{end}' is mapped twice (also by '{first.name}') — "
                    "keep one of the two maps, or make one read-only for this side"
                )
                out.error((*field_map.path, side.value), message)


def _writes(field_map: FieldMapSpec, side: Side) -> bool:
    if field_map.direction is Direction.BOTH:
        return True
    return (field_map.direction is Direction.TO_PARTNER) == (side is Side.PARTNER)
