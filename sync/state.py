"""Link state between the planner's frozen :class:`LinkState` and the store's ``link`` rows."""

from __future__ import annotations

from bridge.model import Deal
from bridge.store.tables import LinkRow
from sync.plan.types import LinkState, LinkStatus
from sync.plan.values import synced_from_json, synced_to_json


def to_state(row: LinkRow) -> LinkState:
    return LinkState(
        agency_deal_id=row.agency_deal_id,
        partner_code=row.partner_code,
        partner_deal_id=row.partner_deal_id,
        status=LinkStatus(row.status),
        synced=synced_from_json(row.synced_json) if row.synced_json else {},
        written_agency=row.written_agency_hash,
        written_partner=row.written_partner_hash,
        park_reason=row.park_reason,
        agency_updated_at=row.agency_updated_at,
        partner_updated_at=row.partner_updated_at,
    )


def apply_state(row: LinkRow | None, state: LinkState) -> LinkRow:
    """``row`` (or a new one) carrying ``state``; the row's own bookkeeping is kept."""
    target = row or LinkRow(
        agency_deal_id=state.agency_deal_id,
        partner_code=state.partner_code,
        status=state.status.value,
    )
    target.partner_deal_id = state.partner_deal_id
    target.status = state.status.value
    target.synced_json = synced_to_json(state.synced)
    target.written_agency_hash = state.written_agency
    target.written_partner_hash = state.written_partner
    target.park_reason = state.park_reason
    target.agency_updated_at = state.agency_updated_at
    target.partner_updated_at = state.partner_updated_at
    return target


def note_snapshot(row: LinkRow, agency: Deal | None, partner: Deal | None) -> None:
    """Remember each side's stage and amount as last seen, for status pages and `bridge deal`."""
    if agency is not None:
        row.agency_stage = agency.stage_id
        row.agency_amount = agency.amount.amount if agency.amount else None
        row.agency_currency = agency.amount.currency if agency.amount else None
    if partner is not None:
        row.partner_stage = partner.stage_id
        row.partner_amount = partner.amount.amount if partner.amount else None
        row.partner_currency = partner.amount.currency if partner.amount else None
