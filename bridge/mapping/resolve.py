"""Online resolution: a validated :class:`MappingSpec` + live CRMs → :class:`CompiledMapping`.

Every name is looked up against the CRM it belongs to; what does not exist is
reported with the names that do, closest first. Resolution never fails the
whole mapping for one partner's drift: a partner whose CRM or pipeline cannot
be reached is compiled as paused and ``unavailable``; a missing stage or field
becomes a :class:`Broken` entry. Only an unreachable agency side yields no
compiled mapping at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bridge.crm import Crm, CrmError, UserDirectory
from bridge.mapping.compiled import (
    AgencyConfig,
    Broken,
    Commission,
    CompiledMapping,
    PartnerConfig,
    StageMap,
)
from bridge.mapping.errors import KeyPath, MappingProblem, sort_problems
from bridge.mapping.names import find_field, find_option, find_pipeline, not_found
from bridge.mapping.report import Reporter
from bridge.mapping.resolve_commission import resolve_commission
from bridge.mapping.resolve_fields import Side, resolve_field_maps
from bridge.mapping.resolve_stages import StageResult, resolve_stages
from bridge.mapping.spec import MappingSpec, PartnerSpecMerged
from bridge.mapping.stamp import stamp_field
from bridge.model import FieldDef, FieldKind, Pipeline, User

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
class _Catalog:
    pipelines: Sequence[Pipeline]
    fields: Sequence[FieldDef]
    users: Sequence[User] | None = None


@dataclass(frozen=True)
class _AgencyView:
    config: AgencyConfig
    pipeline: Pipeline
    routing: FieldDef
    side: Side


def resolve(spec: MappingSpec, crms: Mapping[str, Crm], *, fix: bool = False) -> ResolveReport:
    """Resolve every name in ``spec`` against ``crms`` (keyed ``"agency"`` and partner codes)."""
    out = Reporter(spec.file, spec.loaded)
    agency = _agency(spec, crms.get(AGENCY), out)
    if agency is None:
        return _report(None, out, ())
    partners: dict[str, PartnerConfig] = {}
    summaries = []
    for code, partner in spec.partners.items():
        before = len(out.problems)
        config, summary = _partner(partner, crms.get(code), agency, out, fix=fix)
        partners[code] = config
        summaries.append(_count(summary, out.problems[before:]))
    _check_unrouted(agency.routing, [p.routing_value for p in partners.values()], out)
    compiled = CompiledMapping(
        spec.version, agency.config, partners, spec.policies, spec.texts, spec.rates
    )
    return _report(compiled, out, tuple(summaries))


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


def _catalog(crm: Crm | None, path: KeyPath, out: Reporter) -> _Catalog | None:
    if crm is None:
        out.error(path, "no connection was opened for this CRM")
        return None
    try:
        users = tuple(crm.users()) if isinstance(crm, UserDirectory) else None
        return _Catalog(tuple(crm.pipelines()), tuple(crm.custom_fields()), users)
    except CrmError as exc:
        out.error(path, f"cannot read the CRM: {exc} — check the URL and credentials")
        return None


def _agency(spec: MappingSpec, crm: Crm | None, out: Reporter) -> _AgencyView | None:
    catalog = _catalog(crm, ("agency", "webhook"), out)
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
    spec: PartnerSpecMerged, crm: Crm | None, agency: _AgencyView, out: Reporter, *, fix: bool
) -> tuple[PartnerConfig, PartnerSummary]:
    before = len(out.errors)
    catalog = _catalog(crm, (*spec.path, "connection"), out)
    routing = _routing_value(spec, agency.routing, out)
    pipeline = _partner_pipeline(spec, catalog, out)
    if catalog is None or pipeline is None or crm is None:
        found = [p.message for p in out.errors[before:]]
        reason = "; ".join(found) or "its CRM or pipeline could not be resolved"
        return _unavailable(spec, routing, reason)
    stages = resolve_stages(spec.stages, agency.pipeline, pipeline, out)
    partner_side = Side("partner", catalog.fields, catalog.users)
    fields, broken = resolve_field_maps(spec.fields, agency.side, partner_side, out)
    config = PartnerConfig(
        code=spec.code,
        name=spec.name,
        connection=spec.connection,
        pipeline_id=pipeline.id,
        pipeline_name=pipeline.name,
        routing_value=routing or "",
        stages=stages.stages,
        fields=fields,
        commission=resolve_commission(spec, fields, agency.side, out),
        policies=spec.policies,
        paused=spec.paused,
        stamp_field_id=stamp_field(crm, spec.path, out, fix=fix),
        currency=spec.currency,
        broken_fields=broken,
    )
    return config, _summary(config, stages)


def _partner_pipeline(
    spec: PartnerSpecMerged, catalog: _Catalog | None, out: Reporter
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
        commission=_describe(config.commission),
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


def _describe(commission: Commission) -> str:
    parts = [
        f"{r.kind.value} {(r.rate * 100).normalize():f} % ({r.payer.value} pays)"
        for r in commission.rules
    ]
    if commission.membership_fee is not None:
        parts.append(f"membership {commission.membership_fee}/year")
    return "; ".join(parts) or "none"


def _count(summary: PartnerSummary, problems: list[MappingProblem]) -> PartnerSummary:
    errors = sum(1 for p in problems if not p.warning)
    warnings = len(problems) - errors
    fields = {**summary.__dict__, "problems": errors, "warnings": warnings}
    return PartnerSummary(**fields)
