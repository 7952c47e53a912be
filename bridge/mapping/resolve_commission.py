"""Commission rules: the fee / paid field named in a rule → the field end it reads."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.mapping.compiled import Commission, CommissionRule, FieldEnd, FieldMap, RuleKind
from bridge.mapping.report import Reporter
from bridge.mapping.resolve_fields import Side, resolve_end
from bridge.mapping.spec import PartnerSpecMerged, RuleSpecMerged
from bridge.model import Money


def resolve_commission(
    spec: PartnerSpecMerged, fields: Sequence[FieldMap], agency: Side, out: Reporter
) -> Commission:
    rules = resolve_rules(spec.rules, spec, fields, agency, out)
    return Commission(rules, membership_fee(spec), spec.override)


def resolve_rules(
    merged: Sequence[RuleSpecMerged],
    spec: PartnerSpecMerged,
    fields: Sequence[FieldMap],
    agency: Side,
    out: Reporter,
) -> tuple[CommissionRule, ...]:
    """Rules with their fee / paid field resolved (a rule whose field did not resolve is
    skipped with a warning)."""
    rules = []
    for rule in merged:
        source: FieldEnd | None = None
        if rule.source_field is not None:
            key = "fee_field" if rule.kind is RuleKind.PERCENT_OF_FEE else "paid_field"
            if _unresolved_map(rule.source_field, spec, fields):
                message = f"field map '{rule.source_field}' did not resolve — rule skipped"
                out.warn((*rule.path, key), message)
                continue
            source = _source(rule.source_field, fields, agency, (*rule.path, key), out)
            if source is None:
                continue
        rules.append(
            CommissionRule(
                rule.kind,
                rule.rate,
                rule.payer,
                rule.currency,
                source,
                rule.due_days,
                rule.hold_days,
                rule.tiers,
                rule.since,
                rule.until,
            )
        )
    return tuple(rules)


def membership_fee(spec: PartnerSpecMerged) -> Money | None:
    """The partner's yearly fee, in its commission's currency (offline: no CRM needed)."""
    if spec.membership_fee is None:
        return None
    currency = spec.rules[0].currency if spec.rules else spec.currency
    return Money(spec.membership_fee, currency)


def _unresolved_map(name: str, spec: PartnerSpecMerged, fields: Sequence[FieldMap]) -> bool:
    named = any(f.name == name for f in spec.fields)
    return named and not any(f.name == name for f in fields)


def _source(
    name: str, fields: Sequence[FieldMap], agency: Side, path: tuple[str | int, ...], out: Reporter
) -> FieldEnd | None:
    """A field-map key (its agency end), or an agency field by code or name."""
    mapped = next((f for f in fields if f.name == name), None)
    if mapped is not None:
        return mapped.agency
    return resolve_end(name, agency, path, out)
