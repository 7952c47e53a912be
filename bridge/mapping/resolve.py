"""Online resolution: a validated :class:`MappingSpec` + live CRMs → :class:`CompiledMapping`.

Every name is looked up against the CRM it belongs to; what does not exist is
reported with the names that do, closest first. Resolution never fails the
whole mapping for one partner's drift: a partner whose CRM or pipeline cannot
be reached is compiled as paused and ``unavailable``; a missing stage or field
becomes a :class:`Broken` entry. Only an unreachable agency side yields no
compiled mapping at all.

What each account holds (pipelines, fields, users, stamp field) is read first, for
all accounts at once on a thread pool (:mod:`bridge.mapping.resolve_catalog`), or
taken from the store's cache (:mod:`bridge.mapping.resolve_cache`) when the caller
passes one with a ``max_age``. ``only`` resolves the agency and those partners; the
others are compiled as not resolved (their deals are not touched by such a command).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from bridge.crm import Crm, CrmError
from bridge.mapping.compiled import (
    AgencyConfig,
    Broken,
    Commission,
    CommissionRule,
    CompiledMapping,
    PartnerConfig,
    StageMap,
)
from bridge.mapping.errors import KeyPath, MappingProblem, dotted, sort_problems
from bridge.mapping.names import find_field, find_option, find_pipeline, not_found
from bridge.mapping.report import Reporter
from bridge.mapping.resolve_cache import CatalogCache, catalogs
from bridge.mapping.resolve_catalog import Catalog, Read, Unreadable
from bridge.mapping.resolve_commission import resolve_commission
from bridge.mapping.resolve_fields import Side, resolve_field_maps
from bridge.mapping.resolve_leads import resolve_leads
from bridge.mapping.resolve_stages import StageResult, resolve_stages
from bridge.mapping.spec import MappingSpec, PartnerSpecMerged
from bridge.mapping.stamp import StampFieldHost
from bridge.mapping.tax_field import check_tax_field
from bridge.model import FieldDef, FieldKind, Pipeline

AGENCY = "agency"


@dataclass(frozen=True)
class PartnerSummary:
    code: str
    name: str
    kind: str
    connected: bool
    pipeline: str
    stages_mapped: int
    stages_unmapped: tuple[str, ...]
    fields_mapped: int
    commission: str
    paused: bool
    problems: int
    warnings: int


@dataclass(frozen=True)
class ResolveReport:
    compiled: CompiledMapping | None
    problems: tuple[MappingProblem, ...]
    warnings: tuple[MappingProblem, ...]
    summaries: tuple[PartnerSummary, ...] = ()
    created: tuple[str, ...] = ()  # what ``fix=True`` created in the CRMs

    @property
    def ok(self) -> bool:
        return self.compiled is not None and not self.problems


@dataclass(frozen=True)
class _AgencyView:
    config: AgencyConfig
    pipeline: Pipeline
    routing: FieldDef
    side: Side


def resolve(
    spec: MappingSpec,
    crms: Mapping[str, Crm],
    *,
    fix: bool = False,
    only: Collection[str] | None = None,
    cache: CatalogCache | None = None,
    max_age: dt.timedelta | None = None,
) -> ResolveReport:
    """Resolve every name in ``spec`` against ``crms`` (keyed ``"agency"`` and partner codes).

    ``only``: resolve these partners (and the agency), not the others. ``cache`` with
    ``max_age``: use catalogs the store read live no longer ago than that; without
    ``max_age`` every account is read live and the cache refreshed. ``fix`` reads live.
    """
    out = Reporter(spec.file, spec.loaded)
    codes = [c for c in spec.partners if only is None or c in only]
    # --fix creates stamp fields after reading: what it read is not cached (stale at once),
    # and what is cached is dropped when it created anything.
    read = catalogs(spec, crms, [AGENCY, *codes], cache=None if fix else cache, max_age=max_age)
    live = cache is None or max_age is None  # a check, not a start from the cache
    agency = _agency(spec, crms.get(AGENCY), read.get(AGENCY), out)
    if agency is None:
        return _report(None, out, ())
    partners: dict[str, PartnerConfig] = {}
    summaries = []
    for code, partner in spec.partners.items():
        if code not in codes:
            routing = _routing_value(partner, agency.routing, Reporter(spec.file, spec.loaded))
            partners[code] = _unavailable(partner, routing, NOT_RESOLVED)[0]
            continue
        before = len(out.problems)
        crm = crms.get(code)
        config, summary = _partner(partner, crm, read.get(code), agency, out, fix=fix, live=live)
        partners[code] = config
        summaries.append(_count(summary, out.problems[before:]))
    if only is None:
        _check_unrouted(agency.routing, [p.routing_value for p in partners.values()], out)
    compiled = CompiledMapping(
        spec.version,
        agency.config,
        partners,
        spec.policies,
        spec.texts,
        decline=spec.decline,
        rates=spec.rates,
    )
    if fix and out.created and cache is not None:
        cache.forget()
    return _report(compiled, out, tuple(summaries))


NOT_RESOLVED = "not resolved by this command (it touches other partners only)"


def _report(
    compiled: CompiledMapping | None, out: Reporter, summaries: tuple[PartnerSummary, ...]
) -> ResolveReport:
    return ResolveReport(
        compiled,
        tuple(sort_problems(out.errors)),
        tuple(sort_problems(out.warnings)),
        summaries,
        tuple(out.created),
    )


def _check_unrouted(routing: FieldDef, used: Sequence[str], out: Reporter) -> None:
    """Routing options no partner claims: their deals are skipped without a word."""
    if routing.kind is not FieldKind.ENUM:
        return
    claimed = {value.casefold() for value in used if value}
    claimed |= {o.id.casefold() for o in routing.options if o.value.casefold() in claimed}
    idle = [
        o.value
        for o in routing.options
        if o.value.casefold() not in claimed and o.id.casefold() not in claimed
    ]
    if idle:
        names = ", ".join(f"'{n}'" for n in idle)
        message = (
            f"routing options {names} name no partner: deals routed to them are skipped — "
            "add a partner whose name (or routing_value) is the option, or ignore this"
        )
        out.warn(("agency", "routing_field"), message)


def _catalog(crm: Crm | None, read: Read | None, path: KeyPath, out: Reporter) -> Catalog | None:
    if crm is None or read is None:
        out.error(path, "no connection was opened for this CRM")
        return None
    if isinstance(read, Unreadable):
        out.error(path, f"cannot read the CRM: {read.reason} — check the URL and credentials")
        return None
    return read


def _agency(
    spec: MappingSpec, crm: Crm | None, read: Read | None, out: Reporter
) -> _AgencyView | None:
    catalog = _catalog(crm, read, ("agency", "webhook"), out)
    if catalog is None:
        return None
    pipeline = find_pipeline(catalog.pipelines, spec.agency.pipeline)
    if pipeline is None:
        names = [p.name for p in catalog.pipelines]
        out.error(("agency", "pipeline"), not_found("pipeline", spec.agency.pipeline, names))
    routing = find_field(catalog.fields, spec.agency.routing_field)
    if routing is None:
        names = [f.code or f.id for f in catalog.fields] + [f.name for f in catalog.fields]
        message = not_found("field", spec.agency.routing_field, names)
        out.error(("agency", "routing_field"), message)
    if pipeline is None or routing is None:
        return None
    config = AgencyConfig(
        spec.agency.connection,
        pipeline.id,
        pipeline.name,
        routing.id,
        routing.multiple,
        spec.agency.currency,
        spec.agency.timezone,
    )
    return _AgencyView(config, pipeline, routing, Side("agency", catalog.fields, catalog.users))


def _routing_value(partner: PartnerSpecMerged, routing: FieldDef, out: Reporter) -> str | None:
    if routing.kind is not FieldKind.ENUM:
        return partner.routing_value
    option = find_option(routing, partner.routing_value)
    if option is None:
        key = "routing_value" if partner.routing_value != partner.name else "name"
        label = f"option of {routing.code or routing.name}"
        names = [o.value for o in routing.options]
        out.error((*partner.path, key), not_found(label, partner.routing_value, names))
        return None
    return option.id


def _partner(
    spec: PartnerSpecMerged,
    crm: Crm | None,
    read: Read | None,
    agency: _AgencyView,
    out: Reporter,
    *,
    fix: bool,
    live: bool = True,
) -> tuple[PartnerConfig, PartnerSummary]:
    before = len(out.errors)
    catalog = _catalog(crm, read, (*spec.path, "connection"), out)
    routing = _routing_value(spec, agency.routing, out)
    pipeline = _partner_pipeline(spec, catalog, out)
    if catalog is None or pipeline is None or crm is None:
        found = [p.message for p in out.errors[before:]]
        reason = "; ".join(found) or "its CRM or pipeline could not be resolved"
        return _unavailable(spec, routing, reason)
    stages = resolve_stages(spec.stages, agency.pipeline, pipeline, out)
    partner_side = Side("partner", catalog.fields, catalog.users)
    if live:  # one more read per amoCRM account: only where every account is read live
        check_tax_field(crm, spec.path, out)
    fields, broken = resolve_field_maps(spec.fields, agency.side, partner_side, out)
    commission = resolve_commission(spec, fields, agency.side, out)
    leads = resolve_leads(
        spec,
        agency.pipeline,
        catalog.pipelines,
        catalog.fields,
        fields,
        agency.side,
        commission,
        out,
    )
    config = PartnerConfig(
        code=spec.code,
        name=spec.name,
        connection=spec.connection,
        pipeline_id=pipeline.id,
        pipeline_name=pipeline.name,
        routing_value=routing or "",
        stages=stages.stages,
        fields=fields,
        commission=commission,
        policies=spec.policies,
        paused=spec.paused,
        stamp_field_id=_stamp(crm, catalog, spec.path, out, fix=fix),
        currency=spec.currency,
        broken_fields=broken,
        joined=spec.joined,
        groups=spec.groups,
        amount_mirrored=spec.amount_mirrored,
        leads=leads,
    )
    return config, _summary(config, stages)


def _stamp(crm: Crm, catalog: Catalog, path: KeyPath, out: Reporter, *, fix: bool) -> str | None:
    """The stamp field's id: as the catalog found it, or (``--fix``) created live if missing."""
    if not catalog.stamp_managed:
        return None  # the stamp lives in a built-in field
    if fix and catalog.stamp_field_id is None and isinstance(crm, StampFieldHost):
        try:
            created = crm.ensure_stamp_field()  # it looks once more before creating
        except CrmError as exc:
            out.error((*path, "connection"), f"cannot create the stamp field: {exc}")
            return None
        out.note_created(f"{dotted(path)}: created the bridge's stamp field (id {created})")
        return created
    if catalog.stamp_field_id is None:
        message = (
            "the bridge's stamp field does not exist yet — run 'bridge check --fix' to create "
            "it (it is also created with the first deal)"
        )
        out.warn((*path, "connection"), message)
    return catalog.stamp_field_id


def _partner_pipeline(
    spec: PartnerSpecMerged, catalog: Catalog | None, out: Reporter
) -> Pipeline | None:
    if catalog is None:
        return None
    pipeline = find_pipeline(catalog.pipelines, spec.pipeline)
    if pipeline is None:
        names = [p.name for p in catalog.pipelines]
        out.error((*spec.path, "pipeline"), not_found("pipeline", spec.pipeline, names))
    return pipeline


def _summary(config: PartnerConfig, stages: StageResult) -> PartnerSummary:
    return PartnerSummary(
        code=config.code,
        name=config.name,
        kind=config.connection.kind.value,
        connected=True,
        pipeline=config.pipeline_name,
        stages_mapped=stages.mapped,
        stages_unmapped=tuple(stages.unmapped_partner),
        fields_mapped=len(config.fields),
        commission=describe_commission(config.commission),
        paused=config.paused,
        problems=0,
        warnings=0,
    )


def _unavailable(
    spec: PartnerSpecMerged, routing: str | None, reason: str
) -> tuple[PartnerConfig, PartnerSummary]:
    config = PartnerConfig(
        code=spec.code,
        name=spec.name,
        connection=spec.connection,
        pipeline_id="",
        pipeline_name=spec.pipeline,
        routing_value=routing or "",
        stages=StageMap({}, {}, spec.stages.unmapped),
        fields=(),
        commission=Commission(),
        policies=spec.policies,
        paused=True,
        currency=spec.currency,
        unavailable=Broken(spec.code, reason),
        joined=spec.joined,
        groups=spec.groups,
    )
    summary = PartnerSummary(
        spec.code,
        spec.name,
        spec.connection.kind.value,
        False,
        spec.pipeline,
        0,
        (),
        0,
        "—",
        True,
        0,
        0,
    )
    return config, summary


def describe_commission(commission: Commission) -> str:
    """The commission in one line, as the check summary shows it."""
    parts = [
        f"{r.kind.value} {_percent(r)} ({r.payer.value} pays){_window(r)}" for r in commission.rules
    ]
    if commission.membership_fee is not None:
        parts.append(f"membership {commission.membership_fee}/year")
    if commission.override is not None:
        over = commission.override
        rate = f"{(over.rate * 100).normalize():f} %"
        parts.append(
            f"parent {over.parent} earns {rate} of the {over.of} ({over.payer.value} pays)"
        )
    return "; ".join(parts) or "none"


def _percent(rule: CommissionRule) -> str:
    if rule.tiers is None:
        return f"{(rule.rate * 100).normalize():f} %"
    rates = "/".join(f"{(t.rate * 100).normalize():f}" for t in rule.tiers.tiers)
    return f"{rates} % ({rule.tiers.mode.value} by {rule.tiers.by.value})"


def _window(rule: CommissionRule) -> str:
    since = f" from {rule.since}" if rule.since else ""
    until = f" until {rule.until}" if rule.until else ""
    return since + until


def _count(summary: PartnerSummary, problems: list[MappingProblem]) -> PartnerSummary:
    errors = sum(1 for p in problems if not p.warning)
    warnings = len(problems) - errors
    fields = {**summary.__dict__, "problems": errors, "warnings": warnings}
    return PartnerSummary(**fields)
