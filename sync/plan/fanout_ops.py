"""The writes fan-out and re-routing ask for: notes and closes on the partner side. Pure.

:mod:`sync.plan.fanout` decides who leads and who was re-routed; this module turns
``policies.fan_out.on_win`` and ``on_reroute`` into operations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from bridge.mapping.compiled import PartnerConfig, Side
from bridge.model import Deal, DealPatch, LinkKey, LinkState, LinkStatus, Note, Pipeline, Semantics
from sync.plan.notes import rerouted_notice, won_elsewhere_notice
from sync.plan.types import AddNote, CloseLink, LinkPlan, Operation, UpdateDeal


def lost_stage(
    partner: PartnerConfig, pipeline: Pipeline | None, agency_pipeline: Pipeline | None
) -> str | None:
    """The partner pipeline's lost stage: from its pipeline, else through the stage map."""
    if pipeline is not None:
        found = next((s.id for s in pipeline.stages if s.semantics is Semantics.LOST), None)
        if found is not None:
            return found
    if agency_pipeline is None:
        return None
    for stage in agency_pipeline.stages:
        if stage.semantics is Semantics.LOST and stage.id in partner.stages.to_partner:
            return partner.stages.to_partner[stage.id]
    return None


def on_win_ops(
    key: LinkKey,
    partner: PartnerConfig,
    partner_deal: Deal,
    ops: Sequence[Operation],
    lost: str | None,
    now: dt.datetime,
) -> tuple[list[Operation], str | None]:
    """``ops`` plus what ``on_win`` asks for this open partner; the stage it closes to."""
    policy = partner.policies.fan_out.on_win
    out = list(ops)
    if policy == "none":
        return out, None
    closing = policy == "close" and lost is not None
    text = won_elsewhere_notice(partner.policies.language, closed=closing)
    out.append(AddNote(key, Side.PARTNER, Note(deal_id=partner_deal.id, text=text, created_at=now)))
    if not closing or lost is None:
        return out, None
    return _with_partner_stage(key, partner_deal.id, out, lost), lost


def _with_partner_stage(
    key: LinkKey, deal_id: str, ops: list[Operation], stage: str
) -> list[Operation]:
    """One partner patch carrying ``stage``: merged into the plan's own, or added."""
    for i, op in enumerate(ops):
        if isinstance(op, UpdateDeal) and op.side is Side.PARTNER:
            ops[i] = UpdateDeal(key, Side.PARTNER, dataclasses.replace(op.patch, stage_id=stage))
            return ops
    return [UpdateDeal(key, Side.PARTNER, DealPatch(deal_id=deal_id, stage_id=stage)), *ops]


def reroute_plan(
    state: LinkState,
    deal: Deal,
    partner: PartnerConfig,
    rerouted: tuple[str, ...],
    lost: str | None,
    now: dt.datetime,
) -> LinkPlan:
    """Close a link whose deal the agency re-routed to ``rerouted``: the ledger takes its
    money back (the reason says where the deal went), the audit says who changed the
    routing, and the old partner's deal gets a note or is closed (``on_reroute``)."""
    reason = f"re-routed to {', '.join(rerouted)}"
    who = f"agency user {deal.modified_by}" if deal.modified_by else "agency"
    ops: list[Operation] = [CloseLink(state.key, reason, rerouted_to=rerouted, changed_by=who)]
    policy = partner.policies.fan_out.on_reroute
    deal_id = state.partner_deal_id
    closing = policy == "close" and lost is not None and deal_id is not None
    if deal_id is not None and policy != "none":
        text = rerouted_notice(partner.policies.language, closed=closing)
        ops.append(
            AddNote(state.key, Side.PARTNER, Note(deal_id=deal_id, text=text, created_at=now))
        )
    if closing and deal_id is not None and lost is not None:
        ops.insert(
            1, UpdateDeal(state.key, Side.PARTNER, DealPatch(deal_id=deal_id, stage_id=lost))
        )
    outcome = Semantics.LOST if closing else state.outcome
    closed = dataclasses.replace(state, status=LinkStatus.CLOSED, park_reason=None, outcome=outcome)
    return LinkPlan(state.key, tuple(ops), (), closed, state)
