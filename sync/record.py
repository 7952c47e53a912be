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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

from sqlmodel import Session

from bridge.channels.conflicts import fingerprints_of, record_handovers
from bridge.channels.normalise import Fingerprint
from bridge.crm import PermanentError
from bridge.logs import log_event
from bridge.mapping.compiled import Side
from bridge.model import (
    CanonicalValue,
    Deal,
    DealPatch,
    Hint,
    HintKind,
    LinkKey,
    LinkState,
    LinkStatus,
)
from bridge.store import applied
from bridge.store.applied import AppliedLink
from bridge.store.audit import EMPTY, PAIR_SEPARATOR, AuditEvent
from bridge.store.db import Store
from bridge.store.intents import IntentState
from sync.apply import Outcome
from sync.ledger_hook import LedgerHook
from sync.plan.types import (
    AddNote,
    CloseLink,
    CreatePartnerDeal,
    LinkPlan,
    Operation,
    OrphanLink,
    Park,
    UpdateDeal,
)

APPLIED, PARKED, FAILED = "applied", "parked", "failed"
CHUNK = 500  # links recorded per transaction
_RENAMED = {"old": "old_value", "new": "new_value"}  # Recorder._row's short names


class Recording(NamedTuple):
    """One plan to record: what its writes did, the link as the pass read it (None: not
    stored yet), and each side's deal (agency, partner) as gathered."""

    plan: LinkPlan
    outcome: Outcome | None
    stored: LinkState | None
    snapshots: tuple[Deal | None, Deal | None]


@dataclass(frozen=True, slots=True)
class _Prepared:
    item: Recording
    done: AppliedLink
    state: LinkState | None
    verdict: str
    after: tuple[Deal | None, Deal | None]
    handovers: list[tuple[str, str, frozenset[Fingerprint]]]


log = logging.getLogger(__name__)


def _text(value: CanonicalValue) -> str | None:
    """A value as a person reads it; a synced pair as ``agency ↔ partner``."""
    if value is None or type(value) is str:  # the common case first: one check
        return value
    if isinstance(value, tuple):  # a list, not a generator: join makes one anyway
        return PAIR_SEPARATOR.join(
            [v if type(v) is str and v else _text(v) or EMPTY for v in value]
        )
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def outcome_state(plan: LinkPlan, outcome: Outcome | None) -> tuple[LinkState | None, str]:
    """The state to commit for ``plan`` given what its writes did, and the verdict."""
    created = outcome.created_id if outcome else None
    state = _with(plan.next_state, partner_deal_id=created) if created else plan.next_state
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
        prints: Mapping[LinkKey, frozenset[Fingerprint]] | None = None,
    ) -> None:
        """``prints``: each create's client fingerprints as screening read them
        (:func:`sync.screening.screen_creates`); a create not in it is read here."""
        self.prints = prints or {}
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
        return self.commit_many([Recording(plan, outcome, stored, snapshots)])[0]

    def commit_many(
        self, items: Sequence[Recording], progress: Callable[[int], None] | None = None
    ) -> list[str]:
        """Record many plans, up to :data:`CHUNK` links per transaction in set-based
        statements (:func:`bridge.store.applied.record_many`); the verdicts in order.

        Each link's row, audit, intent, handover and ledger entries still commit
        together (a chunk is all or nothing, so a crash inside it leaves each of its
        links as a crash before recording would). ``progress`` is told how many are done.

        A chunk commits without waiting for the disk (``durable=False``): losing it to a
        power cut is that same crash before recording — each create's intent was
        committed durably before the create — and the durable commit that moves a cursor
        past these links (``Engine._finish``) flushes every earlier commit with it.
        """
        verdicts: list[str] = []
        for chunk in _chunks(items, CHUNK):
            # Everything but the SQL is worked out before the transaction, so a chunk
            # holds SQLite's write lock (which every lane and webhook queues on) only
            # for its statements.
            prepared = [self._prepare(item) for item in chunk]
            done = [p.done for p in prepared]
            handovers = [h for p in prepared for h in p.handovers]
            with self.store.transaction(durable=False) as session:
                applied.record_many(session, done, self.now)
                record_handovers(session, handovers, self.now)
                for p in prepared:
                    self._book(session, p)
            verdicts.extend(p.verdict for p in prepared)
            if progress is not None:
                progress(len(verdicts))
        return verdicts

    def _prepare(self, item: Recording) -> _Prepared:
        plan, outcome, stored, snapshots = item
        state, verdict = outcome_state(plan, outcome)
        writes = plan.writes  # a computed property: read once per plan
        if writes or verdict != APPLIED:
            log_event(
                log,
                "link.applied" if verdict == APPLIED else f"link.{verdict}",
                partner=plan.link_key[1],
                agency_deal=plan.link_key[0],
                partner_deal=(state.partner_deal_id if state else None),
                writes=",".join(type(op).__name__ for op in writes),
                reason=(state.park_reason if state else None),
            )
        after = _after_writes(plan, outcome, snapshots, writes)
        retry = None
        if verdict == FAILED:
            retry = Hint(self.agency_system, plan.link_key[0], HintKind.UPDATED, self.now, "retry")
        done = AppliedLink(
            key=plan.link_key,
            state=state,
            new=stored is None,
            seen=after,
            audit=(
                tuple(self._audit(plan, writes, state, verdict, outcome))
                if state is not None
                else ()
            ),
            intent=_intent_end(plan, outcome, verdict, writes),
            created_id=(outcome.created_id if outcome else None) or _adopted(plan),
            retry=retry,
            retry_delay=self.retry_delay,
        )
        handovers = list(_handovers(item, writes, self.prints))
        return _Prepared(item, done, state, verdict, after, handovers)

    def _book(self, session: Session, p: _Prepared) -> None:
        """The ledger's observation of an applied link, in the link's transaction."""
        plan, _, _, snapshots = p.item
        state = p.state
        if state is None or self.ledger is None or p.verdict != APPLIED:
            return
        seen = max(
            (d.updated_at for d in (*snapshots, p.after[0]) if d is not None),
            default=self.now,
        )
        ended = _ended_reason(plan, state)
        self.ledger(
            session,
            state,
            p.after,
            seen,
            self.now,
            ended=ended,
            rerouted=any(isinstance(op, CloseLink) and op.rerouted_to for op in plan.operations),
        )
        self.crash("mid_ledger_write")  # inside the transaction: all or nothing

    def _audit(
        self,
        plan: LinkPlan,
        writes: Sequence[Operation],
        state: LinkState,
        verdict: str,
        outcome: Outcome | None,
    ) -> list[AuditEvent]:
        rows = [*self._write_rows(plan, writes, verdict, outcome), *self._conflict_rows(plan)]
        rows.extend(self._reroute_rows(plan))
        rows.extend(self._change_rows(plan.previous, state, _changed_by(writes)))
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
        data: dict[str, Any] = {
            _RENAMED.get(k, k): (None if v is None else str(v)) for k, v in values.items()
        }
        return AuditEvent(
            at=self.now,
            agency_deal_id=plan.link_key[0],
            partner_code=plan.link_key[1],
            action=action,
            **data,
        )

    def _write_rows(
        self, plan: LinkPlan, writes: Sequence[Operation], verdict: str, outcome: Outcome | None
    ) -> Iterable[AuditEvent]:
        if verdict != APPLIED:
            return
        for op in writes:
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

    def _reroute_rows(self, plan: LinkPlan) -> Iterable[AuditEvent]:
        """Who re-routed the deal (the agency user, when the CRM says so) and where to."""
        for op in plan.operations:
            if isinstance(op, CloseLink) and op.rerouted_to:
                yield self._row(
                    plan,
                    "reroute",
                    side=Side.AGENCY.value,
                    field="routing",
                    changed_by=op.changed_by,
                    old=plan.link_key[1],
                    new=", ".join(op.rerouted_to),
                    detail=f"{op.reason}; routing changed by {op.changed_by or 'agency'}",
                )

    def _conflict_rows(self, plan: LinkPlan) -> Iterable[AuditEvent]:
        for entry in plan.audit:
            yield self._row(
                plan,
                entry.action or ("conflict" if entry.winner else "agreement"),
                field=entry.field,
                side=entry.side_changed.value,
                old=_text(entry.old),
                new=_text(entry.new),
                winner=entry.winner.value if entry.winner else None,
                loser_value=_text(entry.loser_value),
                detail=entry.detail,
            )

    def _change_rows(
        self, previous: LinkState | None, state: LinkState, changed_by: str | None
    ) -> Iterable[AuditEvent]:
        before = previous.synced if previous else {}
        now, synced = self.now, state.synced
        agency_deal_id, partner_code = state.agency_deal_id, state.partner_code
        for name in sorted(before.keys() | synced.keys()):
            old, new = before.get(name), synced.get(name)
            if old != new:  # positional: the hot path of a large pass (30,000 events)
                yield AuditEvent(
                    now,
                    agency_deal_id,
                    partner_code,
                    "synced",
                    None,
                    name,
                    _text(old),
                    _text(new),
                    changed_by,
                )


def _intent_end(
    plan: LinkPlan, outcome: Outcome | None, verdict: str, writes: Sequence[Operation]
) -> IntentState | None:
    """How this plan's create intent ended: done (a deal exists), failed (parked), or not yet.

    A deal found by stamp and bound without a create also settles an intent a crashed or
    lost create left behind (``record`` then names the adopted deal).
    """
    creates = any(isinstance(o, CreatePartnerDeal) for o in writes)
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


def _changed_by(writes: Sequence[Operation]) -> str | None:
    """Whose edit a plan mirrored: the side it did *not* write to (None: both or neither)."""
    written = {op.side for op in writes if isinstance(op, UpdateDeal)}
    if any(isinstance(op, CreatePartnerDeal) for op in writes):
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


def _handovers(
    item: Recording,
    writes: Sequence[Operation],
    screened: Mapping[LinkKey, frozenset[Fingerprint]],
) -> Iterable[tuple[str, str, frozenset[Fingerprint]]]:
    """Whom this client went to (for later channel-conflict checks): the created deals,
    with the fingerprints screening read (the same draft's) or, unscreened, read now."""
    plan, outcome, _, _ = item
    if outcome is None or outcome.created_id is None:
        return
    for op in writes:
        if isinstance(op, CreatePartnerDeal):
            prints = screened.get(plan.link_key)
            if prints is None:
                prints = fingerprints_of(op.draft.contact, op.draft.company)
            yield plan.link_key[0], plan.link_key[1], prints


def _chunks(items: Sequence[Recording], size: int) -> Iterator[list[Recording]]:
    """Runs of at most ``size`` items, a link never twice in one run."""
    chunk: list[Recording] = []
    keys: set[tuple[str, str]] = set()
    for item in items:
        if len(chunk) == size or item.plan.link_key in keys:
            yield chunk
            chunk, keys = [], set()
        chunk.append(item)
        keys.add(item.plan.link_key)
    if chunk:
        yield chunk


def _after_writes(
    plan: LinkPlan,
    outcome: Outcome | None,
    snapshots: tuple[Deal | None, Deal | None],
    writes: Sequence[Operation] | None = None,
) -> tuple[Deal | None, Deal | None]:
    """Each side's deal as it stands after this plan's patches (for stage/amount columns);
    ``writes``: the plan's writes, when the caller has them already."""
    agency, partner = snapshots
    for op in plan.writes if writes is None else writes:
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
        changes["fields"] = MappingProxyType({**deal.fields, **patch.fields})
    return _with(deal, **changes) if changes else deal


def _drafted(op: CreatePartnerDeal, deal_id: str, agency: Deal | None) -> Deal | None:
    if agency is None:
        return None
    draft = op.draft
    return _with(
        agency, id=deal_id, stage_id=draft.stage_id, amount=draft.amount, fields=_NO_FIELDS
    )


_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})
_Frozen = TypeVar("_Frozen", LinkState, Deal)


def _with(value: _Frozen, **changes: Any) -> _Frozen:
    """``dataclasses.replace`` for a link state or a deal, without running its
    ``__post_init__`` again: for ``changes`` that already are what it makes sure of
    (aware UTC times, read-only mappings). The record step copies a link and a deal
    for each of thousands of plans a pass, and those checks were a tenth of its time."""
    names = type(value).__slots__
    if not changes.keys() <= set(names):
        raise TypeError(f"{type(value).__name__} has no {sorted(changes.keys() - set(names))}")
    copy = object.__new__(type(value))
    for name in names:
        object.__setattr__(copy, name, changes[name] if name in changes else getattr(value, name))
    return copy
