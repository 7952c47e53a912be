"""Field maps by name → :class:`FieldMap` by id; value tables resolved to option ids.

A field map whose custom field does not resolve is dropped into
``PartnerConfig.broken_fields`` (deals are unaffected unless they need it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bridge.mapping.compiled import (
    Broken,
    Converter,
    ConverterKind,
    FieldEnd,
    FieldMap,
    Target,
)
from bridge.mapping.errors import KeyPath
from bridge.mapping.names import find_field, find_option, not_found
from bridge.mapping.report import Reporter
from bridge.mapping.spec import STANDARD_TARGETS, FieldMapSpec
from bridge.model import FieldDef, FieldKind, User

_KIND_CONVERTERS: dict[FieldKind, frozenset[ConverterKind]] = {
    FieldKind.ENUM: frozenset({ConverterKind.ENUM, ConverterKind.TEXT}),
    FieldKind.MONEY: frozenset({ConverterKind.MONEY, ConverterKind.NUMBER}),
    FieldKind.NUMBER: frozenset({ConverterKind.MONEY, ConverterKind.NUMBER}),
    FieldKind.DATE: frozenset({ConverterKind.DATE}),
    FieldKind.DATETIME: frozenset({ConverterKind.DATE}),
    FieldKind.USER: frozenset({ConverterKind.USER}),
}


@dataclass(frozen=True)
class Side:
    """One CRM's custom fields, and how to name that side in messages."""

    label: str  # "agency" / "partner"
    fields: Sequence[FieldDef]
    users: Sequence[User] | None = None  # None: the CRM cannot list them (ids pass through)


def resolve_end(target: str, side: Side, path: KeyPath, out: Reporter) -> FieldEnd | None:
    """A standard target, or a custom field of ``side`` by id, code or name."""
    if target in STANDARD_TARGETS:
        return FieldEnd(Target(target), target)
    found = find_field(side.fields, target)
    if found is None:
        names = [f.name for f in side.fields] + [f.code for f in side.fields if f.code]
        out.error(path, not_found(f"{side.label} field", target, names))
        return None
    return FieldEnd(Target.CUSTOM, target, found.id)


def resolve_field_maps(
    specs: Sequence[FieldMapSpec], agency: Side, partner: Side, out: Reporter
) -> tuple[tuple[FieldMap, ...], tuple[Broken, ...]]:
    maps, broken = [], []
    for spec in specs:
        ours = resolve_end(spec.agency, agency, (*spec.path, "agency"), out)
        theirs = resolve_end(spec.partner, partner, (*spec.path, "partner"), out)
        if ours is None or theirs is None:
            missing = spec.agency if ours is None else spec.partner
            broken.append(Broken(spec.name, f"field '{missing}' does not exist"))
            continue
        converter = _converter(spec, (ours, theirs), (agency, partner), out)
        if converter is None:
            broken.append(Broken(spec.name, "its converter does not fit the field"))
            continue
        maps.append(
            FieldMap(spec.name, ours, theirs, spec.direction, converter, spec.owner, spec.default)
        )
    return tuple(maps), tuple(broken)


def _converter(
    spec: FieldMapSpec,
    ends: tuple[FieldEnd, FieldEnd],
    sides: tuple[Side, Side],
    out: Reporter,
) -> Converter | None:
    defs = [_def(end, side) for end, side in zip(ends, sides, strict=True)]
    for definition, side in zip(defs, sides, strict=True):
        if definition is not None and not _fits(spec.converter, definition):
            allowed = sorted(_KIND_CONVERTERS[definition.kind])
            right = " or ".join(f"'{c.value}'" for c in allowed)
            message = (
                f"converter '{spec.converter.value}' does not fit {side.label} field "
                f"'{definition.name}' ({definition.kind.value}) — use {right}"
            )
            out.error((*spec.path, "converter"), message)
            return None
    if spec.converter is ConverterKind.USER:
        return _user_converter(spec, sides, out)
    if spec.converter is not ConverterKind.ENUM:
        table = dict(spec.values)
        # No currency named: each side's own (agency.currency / the partner's currency:),
        # so a partner keeping another currency converts at the admin's rates.
        return Converter(spec.converter, table, _invert(table), spec.currency)
    return _enum_converter(spec, defs[0], defs[1], out)


def _user_converter(
    spec: FieldMapSpec, sides: tuple[Side, Side], out: Reporter
) -> Converter | None:
    """A responsible-user table; each side's user by id, login e-mail or full name."""
    to_partner: dict[str, str] = {}
    ok = True
    for agency_user, partner_user in spec.values.items():
        path = (*spec.path, "values", agency_user)
        left = _user_id(sides[0], agency_user, path, out, at_key=True)
        right = _user_id(sides[1], partner_user, path, out, at_key=False)
        if left is None or right is None:
            ok = False
            continue
        to_partner[left] = right
    return Converter(ConverterKind.USER, to_partner, _invert(to_partner)) if ok else None


def _user_id(side: Side, wanted: str, path: KeyPath, out: Reporter, *, at_key: bool) -> str | None:
    if side.users is None:
        return wanted
    folded = wanted.strip().casefold()
    for user in side.users:
        if folded in (user.id, (user.email or "").casefold(), user.name.strip().casefold()):
            return user.id
    names = [u.name for u in side.users]
    out.error(path, not_found(f"{side.label} user", wanted, names), at_key=at_key)
    return None


def _def(end: FieldEnd, side: Side) -> FieldDef | None:
    return next((f for f in side.fields if f.id == end.field_id), None)


def _fits(converter: ConverterKind, definition: FieldDef) -> bool:
    allowed = _KIND_CONVERTERS.get(definition.kind)
    return allowed is None or converter in allowed


def _enum_converter(
    spec: FieldMapSpec, ours: FieldDef | None, theirs: FieldDef | None, out: Reporter
) -> Converter | None:
    to_partner: dict[str, str] = {}
    ok = True
    for agency_value, partner_value in spec.values.items():
        path = (*spec.path, "values", agency_value)
        left = _option_id(ours, agency_value, "agency", path, out, at_key=True)
        right = _option_id(theirs, partner_value, "partner", path, out, at_key=False)
        if left is None or right is None:
            ok = False
            continue
        to_partner[left] = right
    return Converter(ConverterKind.ENUM, to_partner, _invert(to_partner)) if ok else None


def _option_id(
    field: FieldDef | None, value: str, label: str, path: KeyPath, out: Reporter, *, at_key: bool
) -> str | None:
    if field is None or not field.options:
        return value  # a text field on this side: the value itself is what travels
    option = find_option(field, value)
    if option is None:
        names = [o.value for o in field.options]
        out.error(path, not_found(f"{label} value", value, names), at_key=at_key)
        return None
    return option.id


def _invert(table: Mapping[str, str]) -> dict[str, str]:
    inverse: dict[str, str] = {}
    for key, value in table.items():
        inverse.setdefault(value, key)  # first listed wins when several map to one
    return inverse
