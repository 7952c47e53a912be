"""Partner-registered leads: the names of a partner's ``leads:`` → pipeline, stage, field ids.

The agency deal of a lead is created in the agency pipeline the bridge mirrors (a deal
in any other pipeline would be outside every link), so ``agency_pipeline`` must name
that one; it is accepted to make the choice explicit in mapping.yaml.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.mapping.compiled import Commission, FieldMap, LeadsConfig
from bridge.mapping.names import find_field, find_pipeline, find_stage, not_found
from bridge.mapping.report import Reporter
from bridge.mapping.resolve_commission import resolve_rules
from bridge.mapping.resolve_fields import Side
from bridge.mapping.spec import LeadsSpecMerged, PartnerSpecMerged
from bridge.model import FieldDef, Pipeline


def resolve_leads(
    spec: PartnerSpecMerged,
    agency_pipeline: Pipeline,
    partner_pipelines: Sequence[Pipeline],
    partner_fields: Sequence[FieldDef],
    fields: Sequence[FieldMap],
    agency: Side,
    own: Commission,
    out: Reporter,
) -> LeadsConfig | None:
    leads = spec.leads
    if leads is None:
        return None
    path = leads.path
    ok = True
    if (
        leads.agency_pipeline is not None
        and find_pipeline([agency_pipeline], leads.agency_pipeline) is None
    ):
        message = (
            f"agency pipeline '{leads.agency_pipeline}' is not the pipeline the bridge mirrors "
            f"('{agency_pipeline.name}') — leads are created there; write "
            f"'{agency_pipeline.name}' or remove agency_pipeline"
        )
        out.error((*path, "agency_pipeline"), message)
        ok = False
    agency_stage = find_stage(agency_pipeline, leads.agency_stage)
    if agency_stage is None:
        names = [s.name for s in agency_pipeline.stages]
        out.error((*path, "agency_stage"), not_found("stage", leads.agency_stage, names))
        ok = False
    pipeline_id, stage_id = _partner_place(leads, spec, partner_pipelines, out)
    field_id = None
    if leads.field is not None:
        found = find_field(partner_fields, leads.field)
        if found is None:
            names = [f.name for f in partner_fields]
            out.error((*path, "field"), not_found("field", leads.field, names))
            ok = False
        else:
            field_id = found.id
    if pipeline_id == "" or not ok or agency_stage is None:
        return None
    commission = own
    if leads.rules is not None:
        rules = resolve_rules(leads.rules, spec, fields, agency, out)
        commission = Commission(rules, None)
    return LeadsConfig(
        agency_pipeline_id=agency_pipeline.id,
        agency_stage_id=agency_stage.id,
        partner_pipeline_id=pipeline_id,
        partner_stage_id=stage_id,
        field_id=field_id,
        commission=commission,
    )


def _partner_place(
    leads: LeadsSpecMerged,
    spec: PartnerSpecMerged,
    pipelines: Sequence[Pipeline],
    out: Reporter,
) -> tuple[str | None, str | None]:
    """The partner pipeline and stage of a lead; ``""`` as the pipeline when one did not
    resolve. A stage without a pipeline is a stage of the partner pipeline."""
    if leads.pipeline is None and leads.stage is None:
        return None, None
    name = leads.pipeline if leads.pipeline is not None else spec.pipeline
    pipeline = find_pipeline(pipelines, name)
    if pipeline is None:
        key = "pipeline" if leads.pipeline is not None else "stage"
        out.error((*leads.path, key), not_found("pipeline", name, [p.name for p in pipelines]))
        return "", None
    if leads.stage is None:
        return pipeline.id, None
    stage = find_stage(pipeline, leads.stage)
    if stage is None:
        names = [s.name for s in pipeline.stages]
        out.error((*leads.path, "stage"), not_found("stage", leads.stage, names))
        return "", None
    return pipeline.id, stage.id
