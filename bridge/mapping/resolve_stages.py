"""Stage maps by name → :class:`StageMap` by id, with won/lost checked on both sides.

A link whose stage does not resolve on one side becomes a :class:`Broken` entry
keyed by the stage that did resolve, so only deals sitting in that stage park.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.mapping.compiled import Broken, Direction, StageMap, UnmappedStage
from bridge.mapping.names import find_stage, not_found
from bridge.mapping.report import Reporter
from bridge.mapping.spec import StageLink, StagesMapSpec
from bridge.model import Pipeline, Semantics, Stage


@dataclass
class StageResult:
    stages: StageMap
    mapped: int
    unmapped_agency: list[str] = field(default_factory=list)
    unmapped_partner: list[str] = field(default_factory=list)


@dataclass
class _Builder:
    agency: Pipeline
    partner: Pipeline
    out: Reporter
    to_partner: dict[str, str] = field(default_factory=dict)
    to_agency: dict[str, str] = field(default_factory=dict)
    broken_agency: dict[str, Broken] = field(default_factory=dict)
    broken_partner: dict[str, Broken] = field(default_factory=dict)
    linked: int = 0

    def add(self, link: StageLink) -> None:
        ours = find_stage(self.agency, link.agency)
        theirs = find_stage(self.partner, link.partner)
        if ours is None:
            message = not_found("agency stage", link.agency, _names(self.agency))
            self.out.error(link.path, message, at_key=True)
        if theirs is None:
            message = not_found("partner stage", link.partner, _names(self.partner))
            self.out.error(link.path, message)
        if ours is not None and theirs is not None:
            self._link(link, ours, theirs)
        elif ours is not None:
            reason = f"partner stage '{link.partner}' no longer exists in «{self.partner.name}»"
            self.broken_agency[ours.id] = Broken(link.agency, reason)
        elif theirs is not None:
            reason = f"agency stage '{link.agency}' no longer exists in «{self.agency.name}»"
            self.broken_partner[theirs.id] = Broken(link.partner, reason)

    def _link(self, link: StageLink, ours: Stage, theirs: Stage) -> None:
        if ours.semantics is not theirs.semantics:
            self._semantics_problem(link, ours, theirs)
            return
        self.linked += 1
        if link.direction is not Direction.TO_AGENCY:
            self.to_partner.setdefault(ours.id, theirs.id)
        if link.direction is not Direction.TO_PARTNER:
            self.to_agency.setdefault(theirs.id, ours.id)

    def _semantics_problem(self, link: StageLink, ours: Stage, theirs: Stage) -> None:
        same = [s.name for s in self.partner.stages if s.semantics is ours.semantics]
        hint = f"map it to {same[0]!r}" if same else "map it to an open stage"
        message = (
            f"agency stage '{ours.name}' is {ours.semantics.value} but partner stage "
            f"'{theirs.name}' is {theirs.semantics.value} — {hint}"
        )
        self.out.error(link.path, message)


def resolve_stages(
    spec: StagesMapSpec, agency: Pipeline, partner: Pipeline, out: Reporter
) -> StageResult:
    builder = _Builder(agency, partner, out)
    for link in spec.links:
        builder.add(link)
    initial = _initial(spec, partner, out)
    stage_map = StageMap(
        to_partner=builder.to_partner,
        to_agency=builder.to_agency,
        unmapped=spec.unmapped,
        broken_agency=builder.broken_agency,
        broken_partner=builder.broken_partner,
        initial_partner_stage=initial,
    )
    result = StageResult(stage_map, builder.linked)
    result.unmapped_agency = [s.name for s in agency.stages if s.id not in builder.to_partner]
    result.unmapped_partner = [s.name for s in partner.stages if s.id not in builder.to_agency]
    _check_closing(result, agency, spec, out)
    _check_no_counterpart(result, agency, spec, out)
    _check_parked(result, spec, out)
    return result


def _check_no_counterpart(
    result: StageResult, agency: Pipeline, spec: StagesMapSpec, out: Reporter
) -> None:
    """Open agency stages missing from the map park their deals (won/lost: _check_closing)."""
    if spec.unmapped is UnmappedStage.IGNORE and spec.initial is not None:
        return
    open_names = {s.name for s in agency.stages if s.semantics is Semantics.OPEN}
    missing = [n for n in result.unmapped_agency if n in open_names]
    if not missing:
        return
    names = ", ".join(f"'{n}'" for n in missing)
    advice = "map them"
    if spec.initial is None:
        advice += ", or name the partner stage new deals start in with 'initial:'"
    if spec.unmapped is UnmappedStage.PARK:
        advice += ", or set 'unmapped: ignore'"
    message = (
        f"agency stages {names} have no counterpart in this map: deals there will be "
        f"parked — {advice}"
    )
    out.warn((*spec.path, "map"), message, at_key=True)


def _check_parked(result: StageResult, spec: StagesMapSpec, out: Reporter) -> None:
    if spec.unmapped is UnmappedStage.PARK and result.unmapped_partner:
        names = ", ".join(f"'{n}'" for n in result.unmapped_partner)
        message = (
            f"partner stages {names} are not mapped back: deals there will be parked "
            "(unmapped: park) — map them, or set 'unmapped: ignore'"
        )
        out.warn((*spec.path, "map"), message, at_key=True)


def _initial(spec: StagesMapSpec, partner: Pipeline, out: Reporter) -> str | None:
    if spec.initial is None:
        return None
    found = find_stage(partner, spec.initial)
    if found is None:
        out.error(
            (*spec.path, "initial"), not_found("partner stage", spec.initial, _names(partner))
        )
        return None
    return found.id


def _check_closing(
    result: StageResult, agency: Pipeline, spec: StagesMapSpec, out: Reporter
) -> None:
    """Won and lost are where commission happens; leaving them unmapped is almost never meant."""
    for semantics in (Semantics.WON, Semantics.LOST):
        stage = next((s for s in agency.stages if s.semantics is semantics), None)
        if stage is not None and stage.name in result.unmapped_agency:
            message = f"the agency's {semantics.value} stage '{stage.name}' is not mapped"
            out.warn((*spec.path, "map"), message + " — add it under 'map:'", at_key=True)


def _names(pipeline: Pipeline) -> list[str]:
    return [s.name for s in pipeline.stages]
