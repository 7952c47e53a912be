"""Executing the writes of many link plans in bulk: one call per account and kind of write.

Creation is idempotent (DESIGN §5): the intent is committed before
``create_deals``; when the answer is lost (:class:`OutcomeUnknown`) or an intent
was already pending from a crashed run, the partner CRM is searched by stamp
first and a deal found there is adopted instead of created again.

Failures are per account and per item: an account that is down, rate limited
or unauthorised fails only the items sent to it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from bridge.crm import Crm, CrmError, OutcomeUnknown, WriteResult
from bridge.mapping.compiled import Side
from bridge.model import DealDraft, DealPatch, LinkKey
from bridge.store import intents
from bridge.store.db import Store
from sync.plan.types import AddNote, CreatePartnerDeal, LinkPlan, UpdateDeal

_T = TypeVar("_T")

# The places where a sync pass announces "a crash here would hurt": the engine and the
# applier call their ``crash`` callable with one of these names.
CRASH_POINTS = (
    "after_page_fetch",
    "after_intent",
    "after_remote_create",
    "before_local_commit",
    "mid_ledger_write",
    "before_cursor_commit",
    "after_local_commit",
    "after_chunk",  # a chunk of a large window recorded, the next not begun, no cursor moved
)

_crash_hook: Callable[[str], None] | None = None


def install_crash_hook(hook: Callable[[str], None] | None) -> None:
    """Set (or with None, remove) what :func:`crash_point` does in this process.

    Only the reliability harness calls this (``tests/crash_switch.py`` kills the
    process at a named point); nothing in the product does, so in the product a
    crash point is a no-op whatever the environment says.
    """
    global _crash_hook  # noqa: PLW0603 — one process-wide seam, set before a pass starts
    _crash_hook = hook


def crash_point(name: str) -> None:
    """The default ``crash`` of the engine and the applier: calls the installed hook, if any."""
    if _crash_hook is not None:
        _crash_hook(name)


@dataclass
class Outcome:
    """What happened to one link's writes."""

    created_id: str | None = None
    errors: list[CrmError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class Applier:
    def __init__(
        self,
        store: Store,
        agency: Crm,
        partners: Mapping[str, Crm],
        now: dt.datetime,
        crash: Callable[[str], None] = crash_point,
    ) -> None:
        self.store = store
        self.agency = agency
        self.partners = partners
        self.now = now
        self.crash = crash

    def run(self, plans: Sequence[LinkPlan]) -> dict[LinkKey, Outcome]:
        outcomes = {p.link_key: Outcome() for p in plans}
        creates: dict[str, list[tuple[LinkKey, DealDraft]]] = defaultdict(list)
        for plan in plans:
            for op in plan.writes:
                if isinstance(op, CreatePartnerDeal):
                    creates[op.link_key[1]].append((op.link_key, op.draft))
        for code, drafts in creates.items():
            self._create(code, drafts, outcomes)
        self._updates(plans, outcomes)
        self._notes(plans, outcomes)
        return outcomes

    # --- creation ----------------------------------------------------------------
    def _create(
        self, code: str, drafts: list[tuple[LinkKey, DealDraft]], outcomes: dict[LinkKey, Outcome]
    ) -> None:
        crm = self.partners[code]
        with self.store.transaction() as session:
            retried = intents.begin(
                session, code, [(k[0], _stamp(k, d)) for k, d in drafts], self.now
            )
        self.crash("after_intent")
        try:
            adopted = self._search(crm, [(k, d) for k, d in drafts if k[0] in retried])
            fresh = [(k, d) for k, d in drafts if k not in adopted]
            results = self._send_creates(crm, fresh)
        except CrmError as exc:
            for key, _ in drafts:
                outcomes[key].errors.append(exc)
            return
        self.crash("after_remote_create")
        for key, deal_id in adopted.items():
            outcomes[key].created_id = deal_id
        self._refresh_adopted(crm, adopted, dict(drafts), outcomes)
        for (key, _), result in zip(fresh, results, strict=True):
            self._record(outcomes[key], result)

    def _refresh_adopted(
        self,
        crm: Crm,
        adopted: dict[LinkKey, str],
        drafts: dict[LinkKey, DealDraft],
        outcomes: dict[LinkKey, Outcome],
    ) -> None:
        """A deal found by stamp after a crash holds the values of the *first* attempt;
        the agency deal may have changed since, so bring it to the current draft."""
        if not adopted:
            return
        keys = list(adopted)
        patches = [_draft_patch(adopted[k], drafts[k]) for k in keys]
        try:
            results = crm.update_deals(patches)
        except CrmError as exc:
            results = [WriteResult(key=p.key, error=exc) for p in patches]
        for key, result in zip(keys, results, strict=True):
            if result.error is not None:
                outcomes[key].errors.append(result.error)

    def _send_creates(self, crm: Crm, drafts: list[tuple[LinkKey, DealDraft]]) -> list[WriteResult]:
        """Create; whatever came back as "outcome unknown" is looked up by stamp at once."""
        if not drafts:
            return []
        try:
            results = crm.create_deals([d for _, d in drafts])
        except OutcomeUnknown as lost:
            results = [WriteResult(key=d.key, error=lost) for _, d in drafts]
        unknown = [
            (k, d)
            for (k, d), r in zip(drafts, results, strict=True)
            if isinstance(r.error, OutcomeUnknown)
        ]
        found = self._search(crm, unknown)
        return [
            WriteResult(key=d.key, deal_id=found[k]) if k in found else r
            for (k, d), r in zip(drafts, results, strict=True)
        ]

    def _search(self, crm: Crm, drafts: list[tuple[LinkKey, DealDraft]]) -> dict[LinkKey, str]:
        if not drafts:
            return {}
        found = crm.find_by_stamp([_stamp(k, d) for k, d in drafts])
        return {k: found[_stamp(k, d)].id for k, d in drafts if _stamp(k, d) in found}

    @staticmethod
    def _record(outcome: Outcome, result: WriteResult) -> None:
        if result.error is not None:
            outcome.errors.append(result.error)
        else:
            outcome.created_id = result.deal_id

    # --- updates and notes -------------------------------------------------------
    def _target(self, key: LinkKey, side: Side) -> tuple[str, Crm]:
        if side is Side.AGENCY:
            return ("", self.agency)
        return (key[1], self.partners[key[1]])

    def _updates(self, plans: Sequence[LinkPlan], outcomes: dict[LinkKey, Outcome]) -> None:
        groups: dict[str, list[UpdateDeal]] = defaultdict(list)
        for op in _ops(plans, outcomes, UpdateDeal):
            groups[self._target(op.link_key, op.side)[0]].append(op)
        for ops in groups.values():
            crm = self._target(ops[0].link_key, ops[0].side)[1]
            self._send(ops, outcomes, partial(crm.update_deals, [o.patch for o in ops]))

    def _notes(self, plans: Sequence[LinkPlan], outcomes: dict[LinkKey, Outcome]) -> None:
        groups: dict[str, list[AddNote]] = defaultdict(list)
        for op in _ops(plans, outcomes, AddNote):
            groups[self._target(op.link_key, op.side)[0]].append(op)
        for ops in groups.values():
            crm = self._target(ops[0].link_key, ops[0].side)[1]
            self._send(ops, outcomes, partial(crm.add_notes, [o.note for o in ops]))

    @staticmethod
    def _send(
        ops: Sequence[UpdateDeal | AddNote],
        outcomes: dict[LinkKey, Outcome],
        call: Callable[[], list[WriteResult]],
    ) -> None:
        try:
            results = call()
        except CrmError as exc:
            for op in ops:
                outcomes[op.link_key].errors.append(exc)
            return
        for op, result in zip(ops, results, strict=True):
            if result.error is not None:
                outcomes[op.link_key].errors.append(result.error)


def _draft_patch(deal_id: str, draft: DealDraft) -> DealPatch:
    # Stage moves stay inside the pipeline the deal was created in (same link, same map).
    return DealPatch(
        deal_id,
        title=draft.title,
        stage_id=draft.stage_id,
        amount=draft.amount,
        responsible_id=draft.responsible_id,
        fields=draft.fields,
    )


def _stamp(key: LinkKey, draft: DealDraft) -> str:
    return draft.stamp or key[0]


def _ops(plans: Sequence[LinkPlan], outcomes: dict[LinkKey, Outcome], kind: type[_T]) -> list[_T]:
    """Operations of ``kind`` from plans whose earlier writes did not fail."""
    return [
        op
        for plan in plans
        if outcomes[plan.link_key].ok
        for op in plan.writes
        if isinstance(op, kind)
    ]
