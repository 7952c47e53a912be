"""One link, one pass: the decisions of :mod:`sync.plan` for a single partner.

:class:`LinkInputs` bundles what is known about the link; :func:`plan_link` walks
the decision order documented in :mod:`sync.plan` and returns a
:class:`~sync.plan.types.LinkPlan`, or None for a link that never existed and
has nothing to do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from bridge.mapping.compiled import (
    CompiledMapping,
    Converter,
    ConverterKind,
    PartnerConfig,
    Side,
    Target,
)
from bridge.model import (
    AGENCY_WRITES_KEY,
    HISTORY_KEY,
    HOLD_KEY,
    CanonicalValue,
    Deal,
    LinkKey,
    LinkState,
    LinkStatus,
    Money,
    Note,
    Semantics,
)
from sync.plan.convert import normalize
from sync.plan.draft import build_draft
from sync.plan.fanout import TOLD_KEY, FanOutRole, outcome_of
from sync.plan.fanout_ops import lost_stage, on_win_ops, reroute_plan
from sync.plan.history import history_reason
from sync.plan.mirror import SyncOutcome, sync_slots
from sync.plan.money import (
    PAID_KEY,
    REFUSED_KEY,
    MoneySlot,
    PaidCheck,
    amount_reasons,
    check_paid,
    paid_rule,
    paid_token,
)
from sync.plan.notes import agency_notes_to_mirror, orphan_notice, partner_notes_to_mirror
from sync.plan.rounding import rounding_entry
from sync.plan.slots import Slot, read_end, slots_for
from sync.plan.types import (
    STAGE_KEY,
    AddNote,
    AgencyExtras,
    AuditEntry,
    CloseLink,
    CreatePartnerDeal,
    LinkPlan,
    Operation,
    OrphanLink,
    Park,
    PartnerExtras,
    Skip,
    UpdateDeal,
    pending_link,
)
from sync.plan.values import written_hash

_DORMANT = (LinkStatus.ORPHANED, LinkStatus.CLOSED)


@dataclass(frozen=True, slots=True)
class LinkInputs:
    """Everything known about one link for one planning pass."""

    key: LinkKey
    partner: PartnerConfig
    state: LinkState | None
    deal: Deal | None
    partner_deal: Deal | None
    partner_fetched: bool
    mapping: CompiledMapping
    now: dt.datetime
    agency: AgencyExtras
    extras: PartnerExtras
    sibling_writes: Mapping[str, tuple[CanonicalValue, ...]] = dataclasses.field(
        default_factory=dict
    )
    # Under fan-out: whether this link may move the agency deal's stage and amount, and
    # the sibling that won (sync.plan.fanout). None: the deal goes to this partner alone.
    role: FanOutRole | None = None
    # The partners the deal was re-routed to, when this partner is no longer routed.
    rerouted: tuple[str, ...] = ()

    @property
    def current(self) -> LinkState:
        return self.state or pending_link(*self.key)

    def routed(self) -> bool:
        if self.deal is None or self.deal.pipeline_id != self.mapping.agency.pipeline_id:
            return False
        value = self.deal.fields.get(self.mapping.agency.routing_field_id)
        return any(p.code == self.partner.code for p in self.mapping.routed_partners(value))


def make_plan(
    key: LinkKey,
    ops: tuple[Operation, ...],
    audit: tuple[AuditEntry, ...],
    state: LinkState,
    previous: LinkState | None,
) -> LinkPlan:
    return LinkPlan(key, ops, audit, state, previous)


def unknown_partner(deal_id: str, code: str, state: LinkState | None) -> list[LinkPlan]:
    if state is None or state.status in _DORMANT:
        return []
    reason = f"partner '{code}' is no longer in mapping.yaml"
    closed = dataclasses.replace(state, status=LinkStatus.CLOSED)
    return [make_plan((deal_id, code), (CloseLink((deal_id, code), reason),), (), closed, state)]


def plan_link(inputs: LinkInputs) -> LinkPlan | None:
    state, previous = inputs.current, inputs.state
    if state.status is LinkStatus.ORPHANED:
        return make_plan(inputs.key, (), (), state, previous)
    if not inputs.routed():
        return _close(inputs)
    skip = _skip_reason(inputs, state)
    if skip is not None:
        return make_plan(inputs.key, (Skip(inputs.key, skip),), (), state, previous)
    return _act(inputs, state)


def _act(inputs: LinkInputs, state: LinkState) -> LinkPlan:
    """A routed, unpaused link with its snapshots: orphan, park, create or mirror."""
    partner_deal = inputs.partner_deal
    if partner_deal is None and state.partner_deal_id is not None:
        return _orphan(inputs)
    if state.hold is not None:
        return _park(inputs, state, (state.hold,))
    if partner_deal is not None and state.partner_deal_id is None and inputs.extras.stamped_others:
        return _duplicates(inputs, state, partner_deal)
    broken = _broken_fields(inputs.partner)
    if broken:
        bound = partner_deal.id if partner_deal else state.partner_deal_id
        return _park(inputs, dataclasses.replace(state, partner_deal_id=bound), broken)
    if partner_deal is None:
        return _keep_history(inputs, state) or _create(inputs)
    return _sync(inputs, partner_deal)


def _keep_history(inputs: LinkInputs, state: LinkState) -> LinkPlan | None:
    """A deal closed before the partner's start is recorded, not handed over (DESIGN §5).

    Only a create is held back: a partner deal found by its stamp is adopted (that is
    the bridge's own earlier work, not history).
    """
    assert inputs.deal is not None
    reason = history_reason(
        inputs.deal, inputs.agency.pipeline, inputs.partner, inputs.extras.started_at
    )
    if reason is None:
        return None
    if state.status is LinkStatus.CLOSED and state.synced.get(HISTORY_KEY) == reason:
        return make_plan(inputs.key, (), (), state, inputs.state)
    kept = dataclasses.replace(
        state, status=LinkStatus.CLOSED, park_reason=reason, synced={HISTORY_KEY: reason}
    )
    ops = (CloseLink(inputs.key, reason, history=True),)
    return make_plan(inputs.key, ops, (), kept, inputs.state)


def _broken_fields(partner: PartnerConfig) -> tuple[str, ...]:
    """Field maps that did not resolve: every deal of the partner needs them, so park.

    Syncing the rest would let changes of that field go neither mirrored nor
    parked — a lost change (DESIGN §9).
    """
    return tuple(f"field '{b.label}' does not resolve: {b.reason}" for b in partner.broken_fields)


def _skip_reason(inputs: LinkInputs, state: LinkState) -> str | None:
    if inputs.partner.paused:
        return f"partner '{inputs.partner.code}' is paused in mapping.yaml"
    if state.partner_deal_id is not None and not inputs.partner_fetched:
        return f"partner deal {state.partner_deal_id} was not fetched in this pass"
    if state.partner_deal_id is None and not inputs.partner_fetched:
        # The CRM, not the store, says whether this deal is already there (an empty or
        # restored store, another process, a create whose answer was lost): only a
        # stamp search may say no.
        return "the partner CRM was not searched for this deal's stamp in this pass"
    return None


def _close(inputs: LinkInputs) -> LinkPlan | None:
    state = inputs.state
    if state is None:
        return None
    if state.status is LinkStatus.CLOSED:
        return make_plan(inputs.key, (), (), state, state)
    if inputs.rerouted and inputs.deal is not None:
        lost = lost_stage(inputs.partner, inputs.extras.pipeline, inputs.agency.pipeline)
        return reroute_plan(state, inputs.deal, inputs.partner, inputs.rerouted, lost, inputs.now)
    if inputs.deal is None:
        reason = "the agency deal was deleted or is unreachable"
    elif inputs.deal.pipeline_id != inputs.mapping.agency.pipeline_id:
        reason = (
            f"the agency deal left the partner pipeline '{inputs.mapping.agency.pipeline_name}'"
        )
    else:
        reason = f"the agency deal is no longer routed to partner '{inputs.partner.code}'"
    closed = dataclasses.replace(state, status=LinkStatus.CLOSED, park_reason=None)
    return make_plan(inputs.key, (CloseLink(inputs.key, reason),), (), closed, state)


def _orphan(inputs: LinkInputs) -> LinkPlan:
    state = inputs.current
    deal_id = state.partner_deal_id or ""
    reason = f"partner deal {deal_id} at '{inputs.partner.code}' is missing (deleted?)"
    text = orphan_notice(inputs.partner.name, deal_id, inputs.partner.policies.language)
    note = Note(deal_id=state.agency_deal_id, text=text, created_at=inputs.now)
    ops: tuple[Operation, ...] = (
        OrphanLink(inputs.key, reason),
        AddNote(inputs.key, Side.AGENCY, note),
    )
    orphaned = dataclasses.replace(state, status=LinkStatus.ORPHANED, park_reason=reason)
    return make_plan(inputs.key, ops, (), orphaned, inputs.state)


def _park(inputs: LinkInputs, state: LinkState, reasons: tuple[str, ...]) -> LinkPlan:
    state, reasons = _paid_while_parked(inputs, state, reasons)
    reason = "; ".join(reasons)
    if state.status is LinkStatus.PARKED and state.park_reason == reason:
        return make_plan(inputs.key, (), (), state, inputs.state)
    parked = dataclasses.replace(state, status=LinkStatus.PARKED, park_reason=reason)
    return make_plan(inputs.key, (Park(inputs.key, reason),), (), parked, inputs.state)


def _duplicates(inputs: LinkInputs, state: LinkState, oldest: Deal) -> LinkPlan:
    """Several partner deals carry this deal's stamp: bind the oldest, hold the link.

    The bridge deletes nothing; a person removes the others (or their stamp) and lifts
    the hold with ``bridge retry``.
    """
    others = ", ".join(inputs.extras.stamped_others)
    reason = (
        f"partner deals {others} at '{inputs.partner.code}' carry the same stamp as "
        f"{oldest.id} (agency deal {inputs.key[0]}); the bridge kept the oldest, {oldest.id}, "
        "and deletes nothing — remove the others or their stamp, then run 'bridge retry'"
    )
    held = dataclasses.replace(
        state, partner_deal_id=oldest.id, synced={**state.synced, HOLD_KEY: reason}
    )
    return _park(inputs, held, (reason,))


def _create(inputs: LinkInputs) -> LinkPlan:
    assert inputs.deal is not None  # routed() is False without a deal
    state = inputs.current
    slots = slots_for(
        inputs.mapping, inputs.partner, inputs.agency, inputs.extras, _deal_date(inputs)
    )
    parties = (inputs.agency.contact, inputs.agency.company)
    outcome = build_draft(slots, inputs.deal, inputs.partner, inputs.key, parties)
    if outcome.draft is None:
        return _park(inputs, state, outcome.reasons)
    refused = amount_reasons(inputs.partner, _money_slots(slots), outcome.pairs)
    if refused:
        return _park(inputs, state, refused)
    created = dataclasses.replace(
        state,
        status=LinkStatus.ACTIVE,
        synced=dict(outcome.pairs),
        written_agency=written_hash({k: v[0] for k, v in outcome.pairs.items()}),
        written_partner=written_hash({k: v[1] for k, v in outcome.pairs.items()}),
        park_reason=None,
        agency_updated_at=inputs.deal.updated_at,
        outcome=_outcome(inputs, outcome.draft.stage_id),
    )
    ops = (CreatePartnerDeal(inputs.key, outcome.draft),)
    audit = _roundings(inputs, slots, outcome.pairs, outcome.draft.amount)
    return make_plan(inputs.key, ops, audit, created, inputs.state)


def _sync(inputs: LinkInputs, partner_deal: Deal) -> LinkPlan:
    assert inputs.deal is not None
    state = dataclasses.replace(inputs.current, partner_deal_id=partner_deal.id)
    slots = slots_for(
        inputs.mapping, inputs.partner, inputs.agency, inputs.extras, _deal_date(inputs)
    )
    locked = _shared(slots) if inputs.role is not None and inputs.role.locked else frozenset()
    outcome: SyncOutcome = sync_slots(
        slots, inputs.deal, partner_deal, state, inputs.sibling_writes, locked
    )
    if outcome.reasons:
        return _park(inputs, state, outcome.reasons)
    refused = amount_reasons(inputs.partner, _money_slots(slots), outcome.pairs)
    if refused:
        return _park(inputs, state, refused)
    paid = _paid(inputs, slots, outcome, state)
    if paid.reason is not None:
        seen = _paid_now(inputs, slots, outcome)
        token = paid_token(seen) if seen is not None else ""
        marked = dataclasses.replace(state, synced={**state.synced, REFUSED_KEY: token})
        return _park(inputs, marked, (paid.reason,))
    ops: list[Operation] = [UpdateDeal(inputs.key, side, patch) for side, patch in outcome.patches]
    sent = next((p.amount for side, p in outcome.patches if side is Side.PARTNER), None)
    audit = (*outcome.audit, *_roundings(inputs, slots, outcome.pairs, sent))
    ops += _notes(inputs, partner_deal)
    pairs = dict(outcome.pairs)
    told = _told(inputs, state, partner_deal, ops, pairs)
    synced_values: dict[str, CanonicalValue] = dict(pairs)
    if told is not None:
        synced_values[TOLD_KEY] = told
    if outcome.agency_writes:
        synced_values[AGENCY_WRITES_KEY] = outcome.agency_writes
    if paid.value is not None:
        synced_values[PAID_KEY] = paid.value
    synced = dataclasses.replace(
        state,
        status=LinkStatus.ACTIVE,
        synced=synced_values,
        written_agency=written_hash({k: v[0] for k, v in pairs.items()}),
        written_partner=written_hash({k: v[1] for k, v in pairs.items()}),
        park_reason=None,
        agency_updated_at=inputs.deal.updated_at,
        partner_updated_at=partner_deal.updated_at,
        outcome=_outcome(inputs, _partner_stage(pairs, partner_deal)),
    )
    return make_plan(inputs.key, tuple(ops), audit, synced, inputs.state)


def _roundings(
    inputs: LinkInputs,
    slots: tuple[Slot, ...],
    pairs: Mapping[str, tuple[CanonicalValue, CanonicalValue]],
    sent: Money | None,
) -> tuple[AuditEntry, ...]:
    """The audit line of a deal amount this plan sends to the partner rounded."""
    if sent is None:
        return ()
    for slot in slots:
        if slot.partner is not None and slot.partner.target is Target.AMOUNT:
            pair = pairs.get(slot.rule.name)
            exact = pair[0] if pair is not None else None
            entry = rounding_entry(inputs.key, slot.rule.name, inputs.partner, exact, sent)
            return (entry,) if entry is not None else ()
    return ()


def _money_slots(slots: tuple[Slot, ...]) -> list[MoneySlot]:
    return [MoneySlot(s.rule.name, s.agency, s.partner) for s in slots if s.agency or s.partner]


_MONEY = Converter(ConverterKind.MONEY)


def _paid_now(inputs: LinkInputs, slots: tuple[Slot, ...], outcome: SyncOutcome) -> Money | None:
    """The cumulative paid value the agency deal holds once this plan is applied."""
    rule = paid_rule(inputs.partner)
    if rule is None or rule.source_field is None or inputs.deal is None:
        return None
    end = rule.source_field
    for slot in slots:
        if slot.agency == end and (pair := outcome.pairs.get(slot.rule.name)) is not None:
            value = pair[0]
            break
    else:
        value = normalize(_MONEY, read_end(inputs.deal, end, None, None), rule.currency)
    return value if isinstance(value, Money) else None


def _paid(
    inputs: LinkInputs, slots: tuple[Slot, ...], outcome: SyncOutcome, state: LinkState
) -> PaidCheck:
    if paid_rule(inputs.partner) is None:
        return PaidCheck(None, None)
    amount: Money | None = inputs.deal.amount if inputs.deal else None
    for slot in slots:
        if slot.agency is not None and slot.agency.target is Target.AMOUNT:
            pair = outcome.pairs.get(slot.rule.name)
            amount = pair[0] if pair is not None and isinstance(pair[0], Money) else amount
    return check_paid(inputs.partner, _paid_now(inputs, slots, outcome), state.synced, amount)


def _notes(inputs: LinkInputs, partner_deal: Deal) -> list[Operation]:
    if not inputs.partner.policies.mirror_notes:
        return []
    agency_notes, partner_notes = inputs.agency.notes, inputs.extras.notes
    label = "Агентство" if inputs.partner.policies.language == "ru" else "Agency"
    ops: list[Operation] = []
    for text in partner_notes_to_mirror(partner_notes, agency_notes, inputs.partner.name):
        note = Note(deal_id=inputs.key[0], text=text, created_at=inputs.now)
        ops.append(AddNote(inputs.key, Side.AGENCY, note))
    for text in agency_notes_to_mirror(agency_notes, partner_notes, label):
        note = Note(deal_id=partner_deal.id, text=text, created_at=inputs.now)
        ops.append(AddNote(inputs.key, Side.PARTNER, note))
    return ops


def _shared(slots: tuple[Slot, ...]) -> frozenset[str]:
    """The slots of the agency deal's stage and amount: under fan-out one leader writes them."""
    names = {s.rule.name for s in slots if s.agency is None}
    names |= {s.rule.name for s in slots if s.agency and s.agency.target is Target.AMOUNT}
    return frozenset(names)


def _outcome(inputs: LinkInputs, partner_stage: str | None) -> Semantics | None:
    """This link's own outcome: the semantics of its partner deal's stage."""
    return outcome_of(partner_stage, inputs.partner, inputs.extras.pipeline, inputs.agency.pipeline)


def _partner_stage(pairs: Mapping[str, tuple[CanonicalValue, CanonicalValue]], deal: Deal) -> str:
    """The partner deal's stage once this plan is applied."""
    pair = pairs.get(STAGE_KEY)
    return str(pair[1]) if pair is not None and pair[1] is not None else deal.stage_id


def _told(
    inputs: LinkInputs,
    state: LinkState,
    partner_deal: Deal,
    ops: list[Operation],
    pairs: dict[str, tuple[CanonicalValue, CanonicalValue]],
) -> str | None:
    """Under fan-out, when a sibling won while this partner is open: tell it once (a note,
    or its deal closed, ``policies.fan_out.on_win``). Extends ``ops`` and ``pairs``; the
    sibling told, to remember, or None."""
    winner = inputs.role.winner if inputs.role is not None else None
    if winner is None:
        return None
    if state.synced.get(TOLD_KEY) == winner:
        return winner
    lost = lost_stage(inputs.partner, inputs.extras.pipeline, inputs.agency.pipeline)
    added, stage = on_win_ops(inputs.key, inputs.partner, partner_deal, ops, lost, inputs.now)
    ops[:] = added
    if stage is not None and (pair := pairs.get(STAGE_KEY)) is not None:
        pairs[STAGE_KEY] = (pair[0], stage)
    return winner


def _paid_while_parked(
    inputs: LinkInputs, state: LinkState, reasons: tuple[str, ...]
) -> tuple[LinkState, tuple[str, ...]]:
    """A park never loses money silently: the cumulative paid field lives on the agency
    deal, so a plausible new value is let through (``@paid``) even while the link is
    parked, and the ledger books it (sync.ledger_hook); an implausible one parks the
    link for that reason too, as on an active link (docs/money.md)."""
    rule = paid_rule(inputs.partner)
    if rule is None or rule.source_field is None or inputs.deal is None:
        return state, reasons
    seen = normalize(_MONEY, read_end(inputs.deal, rule.source_field, None, None), rule.currency)
    if not isinstance(seen, Money):
        return state, reasons
    check = check_paid(inputs.partner, seen, state.synced, inputs.deal.amount)
    if check.reason is not None:
        if check.reason in reasons:
            return state, reasons
        marked = {**state.synced, REFUSED_KEY: paid_token(seen)}
        return dataclasses.replace(state, synced=marked), (*reasons, check.reason)
    if check.value is None or check.value == state.synced.get(PAID_KEY):
        return state, reasons
    kept = {**state.synced, PAID_KEY: check.value}
    return dataclasses.replace(state, synced=kept), reasons


def _deal_date(inputs: LinkInputs) -> dt.date | None:
    """The day a conversion uses: the agency deal's creation day, UTC (sync.plan.exchange)."""
    return inputs.deal.created_at.date() if inputs.deal is not None else None
