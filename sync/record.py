"""The last step of a pass: one transaction per applied plan (link, audit, intent, ledger).

What a plan leaves in the store is decided here and handed over in one call
(:func:`bridge.store.applied.record`); the channel handover and the ledger join
the same transaction.

A plan whose writes all succeeded commits its ``next_state``. A permanent error
parks the link with the CRM's reason. A transient or auth error commits nothing
for the link — except a partner deal that *was* created, which is always bound,
so a retry can never create it twice — and the deal goes back to the inbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlmodel import Session

from bridge.channels.conflicts import fingerprints_of, record_handover
from bridge.crm import PermanentError
from bridge.logs import log_event
from bridge.mapping.compiled import Side
from bridge.model import CanonicalValue, Deal, DealPatch, Hint, HintKind, LinkState, LinkStatus
from bridge.store import applied
from bridge.store.applied import AppliedLink
from bridge.store.audit import AuditEvent
from bridge.store.db import Store
from bridge.store.intents import IntentState
from sync.apply import Outcome
from sync.ledger_hook import LedgerHook
from sync.plan.types import (
    AddNote,
    CloseLink,
    CreatePartnerDeal,
    LinkPlan,
    OrphanLink,
    Park,
    UpdateDeal,
)

APPLIED, PARKED, FAILED = "applied", "parked", "failed"

log = logging.getLogger(__name__)


def _text(value: CanonicalValue) -> str | None:
    """A value as a person reads it; a synced pair as ``agency ↔ partner``."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return " ↔ ".join(_text(v) or "∅" for v in value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def outcome_state(plan: LinkPlan, outcome: Outcome | None) -> tuple[LinkState | None, str]:
    """The state to commit for ``plan`` given what its writes did, and the verdict."""
    created = outcome.created_id if outcome else None
    state = plan.next_state.bound_to(created) if created else plan.next_state
    if outcome is None or outcome.ok:
        return state, APPLIED
    error = outcome.errors[0]
    if isinstance(error, PermanentError):
        base = plan.previous or plan.next_state
        base = base.bound_to(created) if created else base
        reason = f"{error.__class__.__name__}: {error}"
        return dataclasses.replace(base, status=LinkStatus.PARKED, park_reason=reason), PARKED
    return (state if created else None), FAILED


class Recorder:
    def __init__(
        self,
        store: Store,
        agency_system: str,
        now: dt.datetime,
        ledger: LedgerHook | None = None,
        retry_delay: dt.timedelta = dt.timedelta(seconds=30),
        crash: Callable[[str], None] | None = None,
    ) -> None:
        self.crash = crash or (lambda _point: None)
        self.retry_delay = retry_delay
        self.store = store
        self.agency_system = agency_system
        self.now = now
        self.ledger = ledger

    def commit(
        self,
        plan: LinkPlan,
        outcome: Outcome | None,
        stored: LinkState | None,
        snapshots: tuple[Deal | None, Deal | None],
    ) -> str:
        """Record ``plan`` given what its writes did; ``stored`` is the link as the pass
        read it (None: not stored yet). Returns the verdict."""
        state, verdict = outcome_state(plan, outcome)
        if plan.writes or verdict != APPLIED:
            log_event(
                log,
                "link.applied" if verdict == APPLIED else f"link.{verdict}",
                partner=plan.link_key[1],
                agency_deal=plan.link_key[0],
                partner_deal=(state.partner_deal_id if state else None),
                writes=",".join(type(op).__name__ for op in plan.writes),
                reason=(state.park_reason if state else None),
            )
        after = _after_writes(plan, outcome, snapshots)
        retry = Hint(self.agency_system, plan.link_key[0], HintKind.UPDATED, self.now, "retry")
        done = AppliedLink(
            key=plan.link_key,
            state=state,
            new=stored is None,
            seen=after,
            audit=tuple(self._audit(plan, state, verdict, outcome)) if state is not None else (),
            intent=_intent_end(plan, outcome, verdict),
            created_id=(outcome.created_id if outcome else None) or _adopted(plan),
            retry=retry if verdict == FAILED else None,
            retry_delay=self.retry_delay,
        )
        with self.store.transaction() as session:
            applied.record(session, done, self.now)
            if state is not None:
                _record_handover(session, plan, outcome, self.now)
                if self.ledger is not None and verdict == APPLIED:
                    seen = max(
                        (d.updated_at for d in (*snapshots, after[0]) if d is not None),
                        default=self.now,
                    )
                    ended = _ended_reason(plan, state)
                    self.ledger(
                        session,
                        plan.link_key[1],
                        state.status,
                        after[0],
                        seen,
                        self.now,
                        deal_id=plan.link_key[0] if ended is not None else None,
                        reason=ended,
                        partner_deal=after[1],
                    )
                    self.crash("mid_ledger_write")  # inside the transaction: all or nothing
        return verdict

    def _audit(
        self, plan: LinkPlan, state: LinkState, verdict: str, outcome: Outcome | None
    ) -> list[AuditEvent]:
        rows = [*self._write_rows(plan, verdict, outcome), *self._conflict_rows(plan)]
        rows.extend(self._change_rows(plan.previous, state, _changed_by(plan)))
        previous = plan.previous.status if plan.previous else None
        if state.status is not previous:
            rows.append(
                self._row(
                    plan,
                    "status",
                    field="status",
                    old=previous,
                    new=state.status,
                    detail=state.park_reason or _reason(plan),
                )
            )
        return rows

    def _row(self, plan: LinkPlan, action: str, **values: object) -> AuditEvent:
        renamed = {"old": "old_value", "new": "new_value"}
        data: dict[str, Any] = {
            renamed.get(k, k): (None if v is None else str(v)) for k, v in values.items()
        }
        return AuditEvent(
            at=self.now,
            agency_deal_id=plan.link_key[0],
            partner_code=plan.link_key[1],
            action=action,
            **data,
        )

    def _write_rows(
        self, plan: LinkPlan, verdict: str, outcome: Outcome | None
    ) -> Iterable[AuditEvent]:
        if verdict != APPLIED:
            return
        for op in plan.writes:
            if isinstance(op, CreatePartnerDeal):
                yield self._row(
                    plan,
                    "create",
                    side=Side.PARTNER.value,
                    changed_by="bridge",
                    new=outcome.created_id if outcome else None,
                    detail=op.draft.title,
                )
            elif isinstance(op, UpdateDeal):
                yield self._row(
                    plan,
                    "update",
                    side=op.side.value,
                    changed_by="bridge",
                    field=",".join(_patched(op.patch)),
                    new=_patch_text(op.patch),
                )
            elif isinstance(op, AddNote):
                yield self._row(
                    plan, "note", side=op.side.value, changed_by="bridge", detail=op.note.text[:500]
                )

    def _conflict_rows(self, plan: LinkPlan) -> Iterable[AuditEvent]:
        for entry in plan.audit:
            yield self._row(
                plan,
                "conflict" if entry.winner else "agreement",
                field=entry.field,
                side=entry.side_changed.value,
                old=_text(entry.old),
                new=_text(entry.new),
                winner=entry.winner.value if entry.winner else None,
                loser_value=_text(entry.loser_value),
            )

    def _change_rows(
        self, previous: LinkState | None, state: LinkState, changed_by: str | None
    ) -> Iterable[AuditEvent]:
        before = previous.synced if previous else {}
        for name in sorted(set(before) | set(state.synced)):
            old, new = before.get(name), state.synced.get(name)
            if old != new:
                yield AuditEvent(
                    at=self.now,
                    agency_deal_id=state.agency_deal_id,
                    partner_code=state.partner_code,
                    action="synced",
                    field=name,
                    changed_by=changed_by,
                    old_value=_text(old),
                    new_value=_text(new),
                )


def _intent_end(plan: LinkPlan, outcome: Outcome | None, verdict: str) -> IntentState | None:
    """How this plan's create intent ended: done (a deal exists), failed (parked), or not yet.

    A deal found by stamp and bound without a create also settles an intent a crashed or
    lost create left behind (``record`` then names the adopted deal).
    """
    creates = any(isinstance(o, CreatePartnerDeal) for o in plan.writes)
    if _adopted(plan) is not None and not creates and verdict != FAILED:
        return IntentState.DONE
    if outcome is None or not creates:
        return None
    if outcome.created_id is not None:
        return IntentState.DONE
    return IntentState.FAILED if verdict == PARKED else None


def _adopted(plan: LinkPlan) -> str | None:
    """The partner deal this plan binds a link to without creating it (found by stamp)."""
    before = plan.previous.partner_deal_id if plan.previous else None
    return plan.next_state.partner_deal_id if before is None else None


def _ended_reason(plan: LinkPlan, state: LinkState) -> str | None:
    """Why the link just stopped being mirrored (orphaned, or closed but not as history),
    for the ledger's "commission kept" notice; None when it did not just end."""
    before = plan.previous.status if plan.previous else None
    if state.status is before or state.status not in (LinkStatus.ORPHANED, LinkStatus.CLOSED):
        return None
    for op in plan.operations:
        if isinstance(op, OrphanLink) or (isinstance(op, CloseLink) and not op.history):
            return op.reason
    return None


def _changed_by(plan: LinkPlan) -> str | None:
    """Whose edit a plan mirrored: the side it did *not* write to (None: both or neither)."""
    written = {op.side for op in plan.writes if isinstance(op, UpdateDeal)}
    if any(isinstance(op, CreatePartnerDeal) for op in plan.writes):
        written.add(Side.PARTNER)
    if len(written) != 1:
        return None
    return (Side.PARTNER if Side.AGENCY in written else Side.AGENCY).value


def _reason(plan: LinkPlan) -> str | None:
    for op in plan.operations:
        if isinstance(op, Park | CloseLink | OrphanLink):
            return op.reason
    return None


def _patched(patch: DealPatch) -> list[str]:
    names = ["title", "pipeline_id", "stage_id", "amount", "responsible_id"]
    return [n for n in names if getattr(patch, n) is not None] + sorted(patch.fields)


def _patch_text(patch: DealPatch) -> str:
    values = {n: str(getattr(patch, n)) for n in _patched(patch) if hasattr(patch, n)}
    values.update({k: str(v) for k, v in patch.fields.items()})
    return json.dumps(values, ensure_ascii=False, sort_keys=True)


def _record_handover(
    session: Session, plan: LinkPlan, outcome: Outcome | None, now: dt.datetime
) -> None:
    """Remember whom this client went to, for later channel-conflict checks."""
    if outcome is None or outcome.created_id is None:
        return
    for op in plan.writes:
        if isinstance(op, CreatePartnerDeal):
            prints = fingerprints_of(op.draft.contact, op.draft.company)
            record_handover(session, plan.link_key[0], plan.link_key[1], prints, now)


def _after_writes(
    plan: LinkPlan, outcome: Outcome | None, snapshots: tuple[Deal | None, Deal | None]
) -> tuple[Deal | None, Deal | None]:
    """Each side's deal as it stands after this plan's patches (for stage/amount columns)."""
    agency, partner = snapshots
    for op in plan.writes:
        if isinstance(op, UpdateDeal) and op.side is Side.AGENCY and agency is not None:
            agency = _patch(agency, op.patch)
        elif isinstance(op, UpdateDeal) and partner is not None:
            partner = _patch(partner, op.patch)
        elif isinstance(op, CreatePartnerDeal) and outcome and outcome.created_id:
            partner = _drafted(op, outcome.created_id, agency)
    return agency, partner


def _patch(deal: Deal, patch: DealPatch) -> Deal:
    """The deal with the patch applied: the ledger observes this, so custom fields count too
    (a mirrored "paid" field must accrue in the pass that writes it, not in a later echo)."""
    names = ("title", "stage_id", "amount", "responsible_id")
    changes: dict[str, Any] = {n: getattr(patch, n) for n in names if getattr(patch, n) is not None}
    if patch.fields:
        changes["fields"] = {**deal.fields, **patch.fields}
    return dataclasses.replace(deal, **changes) if changes else deal


def _drafted(op: CreatePartnerDeal, deal_id: str, agency: Deal | None) -> Deal | None:
    if agency is None:
        return None
    draft = op.draft
    return dataclasses.replace(
        agency, id=deal_id, stage_id=draft.stage_id, amount=draft.amount, fields={}
    )
