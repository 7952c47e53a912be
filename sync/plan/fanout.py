"""Per-link truth under fan-out and re-routing: who may move the shared agency deal. Pure.

One agency deal handed to several partners has one link each, and each link keeps
its own outcome (:attr:`~bridge.model.LinkState.outcome`: the semantics of *its*
partner deal's stage). The agency deal has one stage and one amount, so only one
link — the *leader* — may write them, by the rule ``policies.fan_out.agency_follows``
(programme-wide):

* ``most_advanced`` (default): a partner that won leads (the first to win: the agency
  deal is won with that partner's amount); else, while any partner is open, the most
  advanced open partner leads (by the agency stage its stage maps to; the latest edit
  breaks a tie), so the agency deal moves forward with it; when every partner lost,
  the last to lose leads (the agency deal is lost). A partner that lost is never the
  leader while another is open or won: it no longer writes to the agency deal.
* ``won_only``: the same, but while partners are open nobody leads — the agency deal
  moves only when a partner wins or every partner lost.

The other links still mirror everything else, and still take the agency's own edits.
``policies.fan_out.on_win`` (per partner) says what an open partner is told when a
sibling wins: a note, its deal closed (moved to its lost stage), or nothing.

Re-routing: a link whose partner is no longer routed while the deal now goes to a
partner it did not go to before was *re-routed*; :func:`rerouted_to` names the new
partners (the link is closed with the reason "re-routed to …", its money is taken
back by the ledger and its partner deal gets a note or is closed, ``on_reroute``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bridge.mapping.compiled import CompiledMapping, PartnerConfig
from bridge.model import Deal, FieldValue, LinkState, LinkStatus, Pipeline, Semantics
from sync.plan.types import STAGE_KEY

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TOLD_KEY = "@fan_out_told"  # in ``synced``: the sibling this link's partner was told won
_ACTIVE = (LinkStatus.ACTIVE, LinkStatus.PARKED, LinkStatus.PENDING_CREATE)


@dataclass(frozen=True, slots=True)
class Member:
    """One partner of a fan-out as the planner sees it this pass."""

    code: str
    outcome: Semantics
    rank: int  # how far its stage is along the agency pipeline (higher: more advanced)
    updated_at: dt.datetime  # its partner deal's last change
    won_before: bool  # its link was already won when the pass began


@dataclass(frozen=True, slots=True)
class FanOutRole:
    """What one link of a fan-out may do this pass."""

    locked: bool  # may not write the agency deal's stage and amount
    winner: str | None = None  # the sibling that won, when this partner is still open


def outcome_of(
    stage_id: str | None,
    partner: PartnerConfig,
    pipeline: Pipeline | None,
    agency_pipeline: Pipeline | None,
) -> Semantics | None:
    """The semantics of a partner stage: from the partner's pipeline, else through the
    stage map and the agency pipeline; None when neither knows the stage."""
    if stage_id is None:
        return None
    stage = pipeline.stage_by_id(stage_id) if pipeline else None
    if stage is not None:
        return stage.semantics
    agency_stage = partner.stages.to_agency.get(stage_id)
    mapped = agency_pipeline.stage_by_id(agency_stage) if agency_pipeline and agency_stage else None
    return mapped.semantics if mapped is not None else None


def _rank(
    stage_id: str | None,
    partner: PartnerConfig,
    pipeline: Pipeline | None,
    agency_pipeline: Pipeline | None,
) -> int:
    agency_stage = partner.stages.to_agency.get(stage_id or "")
    mapped = agency_pipeline.stage_by_id(agency_stage) if agency_pipeline and agency_stage else None
    if mapped is not None:
        return mapped.sort
    own = pipeline.stage_by_id(stage_id) if pipeline and stage_id else None
    return own.sort if own is not None else -1


def members(
    deal: Deal,
    links: Mapping[str, LinkState],
    partner_deals: Mapping[str, Deal | None],
    mapping: CompiledMapping,
    pipelines: Mapping[str, Pipeline | None],
    agency_pipeline: Pipeline | None,
) -> list[Member]:
    """The partners this deal is routed to now, each with its outcome and progress.

    A partner deal not fetched this pass counts with what its link last synced; a
    partner whose deal does not exist yet counts as open at the start.
    """
    routed = sorted(p.code for p in mapping.routed_partners(_routing(deal, mapping)))
    out: list[Member] = []
    for code in routed:
        partner = mapping.partners[code]
        state = links.get(code)
        if state is not None and state.status not in _ACTIVE:
            continue
        found = partner_deals.get(code)
        pipeline = pipelines.get(code)
        if found is not None:
            stage_id: str | None = found.stage_id
            updated = found.updated_at
        else:
            pair = state.pair(STAGE_KEY) if state is not None else None
            stage_id = str(pair[1]) if pair is not None and pair[1] is not None else None
            updated = (state.partner_updated_at if state else None) or EPOCH
        outcome = outcome_of(stage_id, partner, pipeline, agency_pipeline) or Semantics.OPEN
        rank = _rank(stage_id, partner, pipeline, agency_pipeline)
        won_before = state is not None and state.outcome is Semantics.WON
        out.append(Member(code, outcome, rank, updated, won_before))
    return out


def leader(group: Sequence[Member], follows: str) -> str | None:
    """The partner whose stage and amount the agency deal takes (see the module doc)."""
    won = [m for m in group if m.outcome is Semantics.WON]
    if won:
        return min(won, key=lambda m: (not m.won_before, m.updated_at, m.code)).code
    if group and all(m.outcome is Semantics.LOST for m in group):
        return max(group, key=lambda m: (m.updated_at, m.code)).code
    if follows == "won_only":
        return None
    open_ = [m for m in group if m.outcome is Semantics.OPEN]
    if not open_:
        return None
    return max(open_, key=lambda m: (m.rank, m.updated_at, m.code)).code


def roles(group: Sequence[Member], follows: str) -> dict[str, FanOutRole]:
    """Each partner's role; empty when the deal goes to one partner only (no fan-out)."""
    if len(group) < 2:
        return {}
    lead = leader(group, follows)
    winner = lead if any(m.code == lead and m.outcome is Semantics.WON for m in group) else None
    result: dict[str, FanOutRole] = {}
    for member in group:
        told = winner if member.outcome is Semantics.OPEN and member.code != winner else None
        result[member.code] = FanOutRole(locked=member.code != lead, winner=told)
    return result


def rerouted_to(
    code: str, deal: Deal, links: Mapping[str, LinkState], mapping: CompiledMapping
) -> tuple[str, ...]:
    """The partners the deal went to instead of ``code``: routed now, never linked before
    (or linked and closed). Empty when ``code`` was simply un-routed."""
    routed = {p.code for p in mapping.routed_partners(_routing(deal, mapping))}
    if code in routed or deal.pipeline_id != mapping.agency.pipeline_id:
        return ()
    fresh = [c for c in routed if (s := links.get(c)) is None or s.status is LinkStatus.CLOSED]
    return tuple(sorted(fresh))


def _routing(deal: Deal, mapping: CompiledMapping) -> FieldValue:
    return deal.fields.get(mapping.agency.routing_field_id)
