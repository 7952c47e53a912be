"""Reading KPI inputs from the store: links, the ledger's observations, the audit trail.

Where a lead stands (open, won, lost) is the link's own outcome (``link.outcome``:
its partner deal's stage semantics — under fan-out each partner has its own) and
the ledger's observations of that link (outcome, partner amount), which the sync
engine records for partners with commission rules. For links without observations a
``stage_semantics`` table — (partner code, partner stage id) → semantics, built from
the partner's pipeline when a CRM is at hand — gives the outcome from the link's
last seen partner stage; otherwise the lead counts as open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence, Set

from sqlmodel import Session, col, select

from bridge.kpi.compute import LinkFacts
from bridge.kpi.history import LinkKey, partner_stage_changes
from bridge.ledger.rules import DealObservation
from bridge.ledger.tables import LedgerObservationRow
from bridge.model import LinkStatus, Money, Semantics
from bridge.store.leads import LeadStatus
from bridge.store.tables import AuditRow, LinkRow, PartnerLeadRow

StageSemantics = Mapping[tuple[str, str], Semantics]
_LIVE = {LinkStatus.ACTIVE.value, LinkStatus.PARKED.value, LinkStatus.PENDING_CREATE.value}


def outcome(
    history: Sequence[DealObservation],
) -> tuple[Semantics, dt.datetime | None, Money | None]:
    """The last observed semantics, since when it has held, and the last amount."""
    ordered = sorted(history, key=lambda o: o.sort_key())
    if not ordered:
        return Semantics.OPEN, None, None
    last = ordered[-1]
    since = last.observed_at
    for obs in reversed(ordered):
        if obs.stage is not last.stage:
            break
        since = obs.observed_at
    return last.stage, (None if last.stage is Semantics.OPEN else since), last.amount


def facts_from(
    rows: Iterable[LinkRow],
    observations: Mapping[LinkKey, Sequence[DealObservation]],
    stage_changes: Mapping[LinkKey, Sequence[dt.datetime]],
    stage_semantics: StageSemantics | None = None,
    sourced: Set[LinkKey] = frozenset(),
) -> list[LinkFacts]:
    """``sourced``: the links that are leads the partner brought (:mod:`bridge.store.leads`)."""
    facts = []
    for row in rows:
        key = (row.agency_deal_id, row.partner_code)
        semantics, at, amount = outcome(observations.get(key, ()))
        if key not in observations and stage_semantics and row.partner_stage:
            semantics = stage_semantics.get((row.partner_code, row.partner_stage), Semantics.OPEN)
            at = None if semantics is Semantics.OPEN else row.partner_updated_at
            amount = _link_amount(row)
        if row.outcome and Semantics(row.outcome) is not semantics:  # the link's own outcome
            semantics = Semantics(row.outcome)
            at = None if semantics is Semantics.OPEN else row.partner_updated_at
            amount = _link_amount(row)
        moves = stage_changes.get(key, ())
        facts.append(
            LinkFacts(
                partner_code=row.partner_code,
                agency_deal_id=row.agency_deal_id,
                handed_at=row.created_at,
                outcome=semantics,
                outcome_at=at,
                amount=amount,
                first_stage_change=moves[0] if moves else None,
                partner_updated_at=row.partner_updated_at,
                live=row.status in _LIVE,
                sourced=key in sourced,
            )
        )
    return facts


def _link_amount(row: LinkRow) -> Money | None:
    """The link's own amount: its partner deal's as last seen, else the agency deal's."""
    if row.partner_amount is not None and row.partner_currency is not None:
        return Money(row.partner_amount, row.partner_currency)
    if row.agency_amount is None or row.agency_currency is None:
        return None
    return Money(row.agency_amount, row.agency_currency)


def _observation(row: LedgerObservationRow) -> DealObservation:
    amount = None
    if row.amount is not None and row.amount_currency is not None:
        amount = Money(row.amount, row.amount_currency)
    return DealObservation(
        row.agency_deal_id, row.partner_code, row.observed_at, Semantics(row.stage), amount
    )


def load_facts(session: Session, stage_semantics: StageSemantics | None = None) -> list[LinkFacts]:
    """Every link with a partner deal, as KPI facts."""
    rows = session.exec(
        select(LinkRow).where(col(LinkRow.partner_deal_id).is_not(None)).order_by(col(LinkRow.id))
    )
    observations: dict[LinkKey, list[DealObservation]] = {}
    for obs_row in session.exec(select(LedgerObservationRow)):
        key = (obs_row.agency_deal_id, obs_row.partner_code)
        observations.setdefault(key, []).append(_observation(obs_row))
    audit_rows = session.exec(
        select(AuditRow).where(col(AuditRow.action).in_(["synced", "update"]))
    )
    leads = session.exec(
        select(PartnerLeadRow).where(PartnerLeadRow.status == LeadStatus.PASSED.value)
    )
    sourced = {(r.agency_deal_id, r.partner_code) for r in leads if r.agency_deal_id}
    changes = partner_stage_changes(audit_rows)
    return facts_from(rows, observations, changes, stage_semantics, sourced)
