"""Partner-registered leads in mapping.yaml: offline checks of a partner's ``leads:`` key."""

from __future__ import annotations

from bridge.mapping.errors import KeyPath
from bridge.mapping.policy import build_rules
from bridge.mapping.report import Reporter
from bridge.mapping.schema import LeadsSpec
from bridge.mapping.spec import LeadsSpecMerged


def build_leads(
    spec: LeadsSpec | None, currency: str, path: KeyPath, out: Reporter
) -> LeadsSpecMerged | None:
    """The merged ``leads:`` of one partner; problems are reported at their line."""
    if spec is None:
        return None
    if spec.pipeline is None and spec.stage is None and spec.field is None:
        message = (
            "leads: says nothing about which partner deals are leads — add 'pipeline:' "
            "and/or 'stage:' (where the partner puts them) or 'field:' (a field it sets)"
        )
        out.error(path, message, at_key=True)
        return None
    rules = None
    if spec.commission is not None:
        rules = build_rules(spec.commission, currency, (*path, "commission"), out)
        if not rules:
            message = "commission for leads has no rules — add 'rules:' or remove 'commission:'"
            out.error((*path, "commission"), message, at_key=True)
    return LeadsSpecMerged(
        agency_stage=str(spec.agency_stage),
        path=path,
        pipeline=_text(spec.pipeline),
        stage=_text(spec.stage),
        field=_text(spec.field),
        agency_pipeline=_text(spec.agency_pipeline),
        rules=rules,
    )


def _text(value: str | int | None) -> str | None:
    return None if value is None else str(value)
