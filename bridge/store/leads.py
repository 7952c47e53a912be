"""Partner-registered leads in the store: which partner deals were passed to the agency
(and as which agency deal), which are held for the manager and why.

The CRMs' stamps stay the truth (the agency deal carries ``lead:<partner>:<deal id>``,
:mod:`sync.plan.leads`); a row here is the cache that lets ``bridge status``, ``bridge
deal`` and the KPIs say "sourced by partner" without asking a CRM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from bridge.store.tables import PartnerLeadRow

_CHUNK = 500


class LeadStatus(StrEnum):
    PASSED = "passed"  # the agency deal exists; the link is sourced by the partner
    HELD = "held"  # a channel conflict: waits for the manager (``bridge leads release``)
    RELEASED = "released"  # the manager let it through: passed next pass, unscreened


@dataclass(frozen=True, slots=True)
class Lead:
    partner_code: str
    partner_deal_id: str
    status: LeadStatus
    agency_deal_id: str | None
    reason: str | None
    received_at: dt.datetime


def _lead(row: PartnerLeadRow) -> Lead:
    return Lead(
        row.partner_code,
        row.partner_deal_id,
        LeadStatus(row.status),
        row.agency_deal_id,
        row.reason,
        row.received_at,
    )


def of_partner(session: Session, code: str, deal_ids: Sequence[str]) -> dict[str, Lead]:
    """The recorded leads among these partner deals, by partner deal id."""
    wanted = sorted(set(deal_ids))
    found: dict[str, Lead] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = select(PartnerLeadRow).where(
            PartnerLeadRow.partner_code == code,
            col(PartnerLeadRow.partner_deal_id).in_(wanted[start : start + _CHUNK]),
        )
        found.update({r.partner_deal_id: _lead(r) for r in session.exec(query)})
    return found


def sourced(session: Session, code: str, agency_deal_id: str) -> bool:
    """Whether the link (agency deal, partner) is a lead the partner brought."""
    query = select(PartnerLeadRow).where(
        PartnerLeadRow.partner_code == code,
        PartnerLeadRow.agency_deal_id == agency_deal_id,
        PartnerLeadRow.status == LeadStatus.PASSED.value,
    )
    return session.exec(query).first() is not None


def everything(session: Session, code: str | None = None) -> list[Lead]:
    """Every recorded lead (of one partner), oldest first."""
    query = select(PartnerLeadRow)
    if code is not None:
        query = query.where(PartnerLeadRow.partner_code == code)
    rows = session.exec(query.order_by(col(PartnerLeadRow.received_at)))
    return [_lead(r) for r in rows]


def passed(session: Session, code: str, pairs: Iterable[tuple[str, str]], now: dt.datetime) -> None:
    """Record ``(partner deal id, agency deal id)`` pairs as passed (idempotent)."""
    for partner_id, agency_id in pairs:
        row = session.get(PartnerLeadRow, (code, partner_id))
        if row is None:
            row = PartnerLeadRow(
                partner_code=code,
                partner_deal_id=partner_id,
                status=LeadStatus.PASSED.value,
                received_at=now,
                updated_at=now,
            )
        elif row.status == LeadStatus.PASSED.value and row.agency_deal_id == agency_id:
            continue
        row.agency_deal_id = agency_id
        row.status = LeadStatus.PASSED.value
        row.reason = None
        row.updated_at = now
        session.add(row)
    session.flush()


def held(session: Session, code: str, partner_id: str, reason: str, now: dt.datetime) -> bool:
    """Hold a lead with ``reason``; False if it was already held with that same reason."""
    row = session.get(PartnerLeadRow, (code, partner_id))
    if row is not None and row.status == LeadStatus.HELD.value and row.reason == reason:
        return False
    if row is None:
        row = PartnerLeadRow(
            partner_code=code,
            partner_deal_id=partner_id,
            status="",
            received_at=now,
            updated_at=now,
        )
    row.status = LeadStatus.HELD.value
    row.reason = reason
    row.updated_at = now
    session.add(row)
    session.flush()
    return True


def release(session: Session, code: str, partner_id: str, now: dt.datetime) -> bool:
    """The manager lets a held lead through; False if no such held lead."""
    row = session.get(PartnerLeadRow, (code, partner_id))
    if row is None or row.status != LeadStatus.HELD.value:
        return False
    row.status = LeadStatus.RELEASED.value
    row.updated_at = now
    session.add(row)
    session.flush()
    return True


def released(session: Session, codes: Sequence[str]) -> dict[str, list[str]]:
    """Per partner: the partner deal ids a manager released and no pass has passed yet."""
    query = select(PartnerLeadRow).where(
        PartnerLeadRow.status == LeadStatus.RELEASED.value,
        col(PartnerLeadRow.partner_code).in_(sorted(set(codes))),
    )
    out: dict[str, list[str]] = {}
    for row in session.exec(query):
        out.setdefault(row.partner_code, []).append(row.partner_deal_id)
    return {code: sorted(ids) for code, ids in out.items()}


def counts(session: Session) -> dict[str, dict[LeadStatus, int]]:
    """Per partner: how many leads are passed, held and released."""
    out: dict[str, dict[LeadStatus, int]] = {}
    for row in session.exec(select(PartnerLeadRow)):
        per = out.setdefault(row.partner_code, {})
        status = LeadStatus(row.status)
        per[status] = per.get(status, 0) + 1
    return out
