"""Stage translation both ways: the stage map first, then won/lost semantics.

Order of resolution for a stage on one side:

1. a ``broken_*`` entry (the admin mapped it but the counterpart no longer
   resolves) → refuse with the mapping's reason, whatever ``unmapped`` says —
   silently ignoring drift would hide it from the admin;
2. the explicit stage map;
3. won/lost semantics: a won (lost) stage goes to the *only* won (lost) stage of
   the other pipeline (amoCRM 142/143, Bitrix24 ``S``/``F``). Several candidates
   are ambiguous and do not resolve;
4. otherwise unmapped: ``unmapped: ignore`` → leave the other side's stage as it
   is (:class:`~sync.plan.convert.Unset`), ``park`` → refuse with a readable reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.mapping.compiled import Broken, PartnerConfig, Side, UnmappedStage
from bridge.model import CanonicalValue, Pipeline, Semantics
from sync.plan.convert import Ok, Refused, Result, Unset


def _stage_label(stage_id: str, pipeline: Pipeline | None) -> str:
    stage = pipeline.stage_by_id(stage_id) if pipeline else None
    return f"'{stage.name}' (id {stage_id})" if stage else f"id {stage_id}"


def _by_semantics(stage_id: str, source: Pipeline | None, target: Pipeline | None) -> str | None:
    stage = source.stage_by_id(stage_id) if source else None
    if stage is None or target is None or stage.semantics is Semantics.OPEN:
        return None
    matches = [s.id for s in target.stages if s.semantics is stage.semantics]
    return matches[0] if len(matches) == 1 else None


class StageTranslator:
    """Translate stage ids between the agency pipeline and one partner's pipeline."""

    def __init__(
        self,
        partner: PartnerConfig,
        agency_pipeline: Pipeline | None,
        partner_pipeline: Pipeline | None,
    ) -> None:
        self._partner = partner
        self._pipelines = {Side.AGENCY: agency_pipeline, Side.PARTNER: partner_pipeline}

    def to_partner(self, value: CanonicalValue) -> Result:
        return self._translate(value, Side.AGENCY)

    def to_agency(self, value: CanonicalValue) -> Result:
        return self._translate(value, Side.PARTNER)

    def _translate(self, value: CanonicalValue, source: Side) -> Result:
        if value is None:
            return Ok(None)
        stage_id = str(value)
        smap = self._partner.stages
        broken: Mapping[str, Broken]
        table, broken = (
            (smap.to_partner, smap.broken_agency)
            if source is Side.AGENCY
            else (smap.to_agency, smap.broken_partner)
        )
        if stage_id in broken:
            return Refused(self._broken_reason(stage_id, source, broken[stage_id]))
        if stage_id in table:
            return Ok(table[stage_id])
        target = Side.PARTNER if source is Side.AGENCY else Side.AGENCY
        semantic = _by_semantics(stage_id, self._pipelines[source], self._pipelines[target])
        if semantic is not None:
            return Ok(semantic)
        if smap.unmapped == UnmappedStage.IGNORE:
            return Unset(f"stage {stage_id} is unmapped and ignored")
        return Refused(self._unmapped_reason(stage_id, source))

    def _whose(self, source: Side) -> str:
        code = self._partner.code
        return "agency" if source is Side.AGENCY else f"partner '{code}'"

    def _unmapped_reason(self, stage_id: str, source: Side) -> str:
        label = _stage_label(stage_id, self._pipelines[source])
        return (
            f"{self._whose(source)} stage {label} has no counterpart in the stage map of"
            f" partner '{self._partner.code}' (pipeline '{self._partner.pipeline_name}');"
            f" map it in mapping.yaml or set unmapped: ignore"
        )

    def _broken_reason(self, stage_id: str, source: Side, broken: Broken) -> str:
        label = _stage_label(stage_id, self._pipelines[source])
        return (
            f"{self._whose(source)} stage {label} is mapped to '{broken.label}', which no"
            f" longer resolves for partner '{self._partner.code}': {broken.reason}"
        )
