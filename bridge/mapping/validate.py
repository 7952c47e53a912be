"""Offline validation: mapping.yaml text → :class:`MappingSpec`, or every problem in it.

Stages run in order and each adds to one problem list: YAML traps, schema
shapes, then the rules that span keys (partners, field maps, stages, commission,
policies, environment). Nothing is returned unless the list has no errors.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError

from bridge.mapping.alerts import build_alerts
from bridge.mapping.compiled import Policies
from bridge.mapping.connection import agency_connection, partner_connection
from bridge.mapping.env import Environment, expand, missing_variable
from bridge.mapping.errors import KeyPath, MappingInvalid, MappingProblem
from bridge.mapping.fieldmaps import amount_dropped, merge_fields
from bridge.mapping.leads import build_leads
from bridge.mapping.partner_keys import check_timezone, groups, joined_date
from bridge.mapping.payouts_spec import build_legal, build_overrides, build_payouts
from bridge.mapping.policy import build_policies, build_rules, build_stages, check_currency
from bridge.mapping.rates import build_rates
from bridge.mapping.report import Reporter
from bridge.mapping.schema import FORMAT_VERSION, MappingFile, PartnerSpec
from bridge.mapping.spec import AgencySpecMerged, MappingSpec, PartnerSpecMerged
from bridge.mapping.texts import check_texts
from bridge.mapping.yaml_loader import load_yaml

_CODE = re.compile(r"^[a-z][a-z0-9_-]{0,19}$")


def load_mapping(path: str | Path, env: Environment | None = None) -> MappingSpec:
    """Read and validate ``path``; raise :class:`MappingInvalid` listing every problem."""
    file = Path(path)
    env = env or Environment.for_mapping(file)
    spec, problems = validate_text(file.read_text(encoding="utf-8"), str(path), env)
    if spec is None:
        raise MappingInvalid([p for p in problems if not p.warning])
    return spec


def validate_text(
    text: str, file: str, env: Environment
) -> tuple[MappingSpec | None, list[MappingProblem]]:
    """The spec (None if any error) and every problem, warnings included."""
    loaded = load_yaml(text, file)
    out = Reporter(file, loaded, list(loaded.problems))
    if loaded.data is None:
        return None, out.problems
    if not isinstance(loaded.data, dict):
        out.error((), "the file must be a mapping with 'version:', 'agency:' and 'partners:'")
        return None, out.problems
    raw = _schema(out)
    if raw is None:
        _missing_variables(loaded.data, (), env, out)  # still worth saying while fixing shapes
    spec = _build(raw, env, out) if raw is not None else None
    return (spec if not out.errors else None), out.problems


def _missing_variables(data: object, path: KeyPath, env: Environment, out: Reporter) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            _missing_variables(value, (*path, key), env, out)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _missing_variables(value, (*path, index), env, out)
    elif isinstance(data, str):
        for name in expand(data, env)[1]:
            out.error(path, missing_variable(name, env))


def _schema(out: Reporter) -> MappingFile | None:
    try:
        raw = MappingFile.model_validate(out.loaded.data)
    except ValidationError as exc:
        from bridge.mapping.schema_errors import report_validation_error

        yaml_paths = {p.path for p in out.problems}
        before = len(out.problems)
        report_validation_error(exc, MappingFile, out)
        # A YAML trap already explained this value; the schema's echo adds nothing.
        out.problems[before:] = [p for p in out.problems[before:] if p.path not in yaml_paths]
        return None
    return raw


def _build(raw: MappingFile, env: Environment, out: Reporter) -> MappingSpec | None:
    if raw.version != FORMAT_VERSION:
        message = (
            f"unsupported version {raw.version} — this bridge reads version {FORMAT_VERSION}; "
            "write 'version: 1' (newer files need a newer bridge)"
        )
        out.error(("version",), message)
        return None
    check_currency(raw.agency.currency, ("agency", "currency"), out)
    timezone = check_timezone(raw.agency.timezone, ("agency", "timezone"), out)
    connection = agency_connection(raw.agency, env, out)
    policies = build_policies(Policies(), [(raw.defaults.policies, ("defaults", "policies"))], out)
    partners = {}
    overrides = build_overrides(raw.partners, out)
    default_payouts = build_payouts(raw.defaults.payouts, ("defaults", "payouts"), out)
    for code, partner in raw.partners.items():
        merged = _partner(raw, code, partner, policies, env, out)
        if merged is not None:
            payouts = default_payouts
            if partner.payouts is not None:
                payouts = build_payouts(partner.payouts, ("partners", code, "payouts"), out)
            legal = build_legal(partner.legal, ("partners", code, "legal"), out)
            partners[code] = replace(
                merged, payouts=payouts, legal=legal, override=overrides.get(code)
            )
    if raw.defaults.commission is not None and all(p.commission for p in raw.partners.values()):
        # No partner uses the default programme, but a mistake in it is still a mistake.
        build_rules(raw.defaults.commission, raw.agency.currency, ("defaults", "commission"), out)
    _check_partner_set(raw, out)
    texts: dict[str, dict[str, str]] = {lang: dict(found) for lang, found in raw.texts.items()}
    check_texts(texts, out)
    decline = build_alerts(raw.alerts, out)
    rates = build_rates(raw.rates, out)
    if connection is None or out.errors:
        return None
    agency = AgencySpecMerged(
        connection,
        str(raw.agency.pipeline),
        raw.agency.routing_field,
        raw.agency.currency,
        timezone,
    )
    return MappingSpec(
        out.file,
        raw.version,
        agency,
        partners,
        policies,
        out.loaded,
        texts,
        decline=decline,
        rates=rates,
    )


def _partner(
    raw: MappingFile,
    code: str,
    spec: PartnerSpec,
    base: Policies,
    env: Environment,
    out: Reporter,
) -> PartnerSpecMerged | None:
    path = ("partners", code)
    if not _CODE.match(code):
        suggestion = re.sub(r"[^a-z0-9_-]+", "_", code.casefold()).strip("_")[:20] or "alfa"
        message = (
            f"partner code '{code}' is not a short code — use lowercase latin letters, digits, "
            f"'-' or '_' (at most 20), e.g. '{suggestion}'; the display name goes in 'name:'"
        )
        out.error(path, message, at_key=True)
    currency = spec.currency or raw.agency.currency
    if spec.currency is not None:
        check_currency(currency, (*path, "currency"), out)
    connection = partner_connection(code, spec.kind, spec.connection, env, out)
    if connection is not None:  # amoCRM prices are bare numbers in the account's currency
        connection = dataclasses.replace(connection, currency=currency)
    stages = build_stages(spec.stages, raw.defaults.unmapped_stages, (*path, "stages"), out)
    fields = merge_fields(raw.defaults.fields, spec.fields, path, out)
    commission = spec.commission or raw.defaults.commission
    commission_path = (*path, "commission") if spec.commission else ("defaults", "commission")
    # Commission is the agency's reporting: bare amounts in its rules are in the agency's
    # currency unless the commission names one, even when the partner keeps its own.
    rules = build_rules(commission, raw.agency.currency, commission_path, out)
    policies = build_policies(base, [(spec.policies, (*path, "policies"))], out)
    leads = build_leads(spec.leads, raw.agency.currency, (*path, "leads"), out)
    for key in ("publish_ratings", "ratings_by"):
        if key in spec.policies.model_fields_set:
            message = (
                f"{key} applies to the whole programme — set it under "
                "defaults.policies, not per partner"
            )
            out.error((*path, "policies", key), message, at_key=True)
    joined = joined_date(spec.joined, (*path, "joined"), out)
    grouped = groups(spec, path, out)
    fan_out = spec.policies.fan_out
    if fan_out is not None and "agency_follows" in fan_out.model_fields_set:
        message = (
            "fan_out.agency_follows applies to the whole programme — set it under "
            "defaults.policies.fan_out, not per partner"
        )
        out.error((*path, "policies", "fan_out", "agency_follows"), message, at_key=True)
    if connection is None or stages is None:
        return None
    return PartnerSpecMerged(
        code=code,
        name=spec.name,
        connection=connection,
        pipeline=str(spec.pipeline),
        routing_value=spec.routing_value or spec.name,
        paused=spec.paused,
        currency=currency,
        stages=stages,
        fields=fields,
        amount_mirrored=not amount_dropped(raw.defaults.fields, spec.fields, fields),
        rules=rules,
        membership_fee=commission.membership_fee if commission else None,
        policies=policies,
        path=path,
        joined=joined,
        groups=grouped,
        leads=leads,
    )


def _check_partner_set(raw: MappingFile, out: Reporter) -> None:
    if not raw.partners:
        out.error(("partners",), "no partners — add at least one partner under 'partners:'")
    seen: dict[str, str] = {}
    for code, partner in raw.partners.items():
        value = (partner.routing_value or partner.name).casefold()
        first = seen.setdefault(value, code)
        if first != code:
            message = (
                f"routing value '{partner.routing_value or partner.name}' is already used by "
                f"partner '{first}' — each partner needs its own routing option "
                "(set 'routing_value:')"
            )
            out.error(("partners", code), message, at_key=True)


__all__ = ["MappingInvalid", "load_mapping", "validate_text"]
