"""Mirror an existing link: reconcile every slot and gather the patches for each side.

Echo suppression happens twice, on purpose. The cheap check: when each side's
current image (its normalised values of every slot) hashes to the ``written_*``
hash we stored, neither side has changed since we last left it — nothing to do.
The exact check is :func:`sync.plan.fields.reconcile` itself: the stored pair holds
what we wrote, so our own write read back is "unchanged" field by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bridge.mapping.compiled import Side
from bridge.model import CanonicalValue, Deal, DealPatch, LinkState
from sync.plan.fields import Decision, Pair, reconcile
from sync.plan.slots import Slot, patch_entry
from sync.plan.types import AuditEntry
from sync.plan.values import written_hash


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    patches: tuple[tuple[Side, DealPatch], ...]
    pairs: Mapping[str, Pair]
    audit: tuple[AuditEntry, ...]
    reasons: tuple[str, ...]
    agency_writes: tuple[str, ...] = ()  # slots whose agency value this link wrote, still standing


def side_image(slots: tuple[Slot, ...], side: Side, deal: Deal) -> dict[str, CanonicalValue]:
    """The normalised values of every mirrored slot as ``side`` holds them now."""
    return {s.rule.name: s.rule.read(side, deal) for s in slots if not s.rule.create_only}


def is_own_echo(slots: tuple[Slot, ...], side: Side, deal: Deal, state: LinkState) -> bool:
    """True when ``deal`` (on ``side``) holds exactly the values the bridge last left there."""
    stored = state.written_agency if side is Side.AGENCY else state.written_partner
    return stored is not None and written_hash(side_image(slots, side, deal)) == stored


class _Patches:
    def __init__(self, deal_ids: Mapping[Side, str]) -> None:
        self._ids = deal_ids
        self._values: dict[Side, dict[str, object]] = {Side.AGENCY: {}, Side.PARTNER: {}}
        self._fields: dict[Side, dict[str, object]] = {Side.AGENCY: {}, Side.PARTNER: {}}

    def add(self, side: Side, entry: Mapping[str, object]) -> None:
        for name, value in entry.items():
            if name == "fields" and isinstance(value, Mapping):
                self._fields[side].update(value)
            else:
                self._values[side][name] = value

    def build(self) -> tuple[tuple[Side, DealPatch], ...]:
        out: list[tuple[Side, DealPatch]] = []
        for side in (Side.PARTNER, Side.AGENCY):
            values, fields = self._values[side], self._fields[side]
            if values or fields:
                patch = DealPatch(deal_id=self._ids[side], fields=fields, **values)  # type: ignore[arg-type]
                out.append((side, patch))
        return tuple(out)


def sync_slots(
    slots: tuple[Slot, ...],
    deal: Deal,
    partner_deal: Deal,
    state: LinkState,
    sibling_writes: Mapping[str, tuple[CanonicalValue, ...]] | None = None,
    locked: frozenset[str] = frozenset(),
) -> SyncOutcome:
    """Decide every non-create-only slot of an existing link.

    ``sibling_writes``: per slot, agency values other links of the same agency deal
    (fan-out) wrote there. Such a value is that sibling's echo, not an agency change
    for this link: one partner's progress is not pushed into another partner's deal.
    """
    live = tuple(s for s in slots if not s.rule.create_only)
    echo = is_own_echo(live, Side.AGENCY, deal, state) and is_own_echo(
        live, Side.PARTNER, partner_deal, state
    )
    tally = _Tally(_Patches({Side.AGENCY: deal.id, Side.PARTNER: partner_deal.id}))
    for slot in live:
        now = (slot.rule.read_agency(deal), slot.rule.read_partner(partner_deal))
        base = _unless_sibling_echo(state.pair(slot.rule.name), now, slot, sibling_writes)
        if echo and base is not None:
            tally.pairs[slot.rule.name] = base
        else:
            decision = reconcile(slot.rule, now, base, state.key)
            if slot.rule.name in locked and decision.write_side is Side.AGENCY:
                decision = Decision(pair=now)
            tally.take(slot, decision, now)
    return tally.outcome(state.agency_writes())


class _Tally:
    """Collects the per-slot decisions into patches, pairs, audit and refusals."""

    def __init__(self, patches: _Patches) -> None:
        self.patches = patches
        self.pairs: dict[str, Pair] = {}
        self.audit: list[AuditEntry] = []
        self.reasons: list[str] = []
        self.written: set[str] = set()

    def take(self, slot: Slot, decision: Decision, now: Pair) -> None:
        if decision.refused is not None:
            self.reasons.append(decision.refused)
            return
        self.pairs[slot.rule.name], wrote = _apply(slot, decision, now, self.patches)
        if wrote or decision.write_side is None:
            self.audit.extend(decision.audit)
        if wrote and decision.write_side is Side.AGENCY:
            self.written.add(slot.rule.name)

    def outcome(self, standing: Mapping[str, CanonicalValue]) -> SyncOutcome:
        """``standing``: earlier agency writes of this link; kept while still in place."""
        kept = {n for n, v in standing.items() if n in self.pairs and self.pairs[n][0] == v}
        return SyncOutcome(
            self.patches.build(),
            self.pairs,
            tuple(self.audit),
            tuple(self.reasons),
            tuple(sorted(self.written | kept)),
        )


def _unless_sibling_echo(
    base: Pair | None,
    now: Pair,
    slot: Slot,
    sibling_writes: Mapping[str, tuple[CanonicalValue, ...]] | None,
) -> Pair | None:
    if base is None or now[0] == base[0] or not sibling_writes:
        return base
    if now[0] in sibling_writes.get(slot.rule.name, ()):
        return (now[0], base[1])
    return base


def _apply(slot: Slot, decision: Decision, now: Pair, patches: _Patches) -> tuple[Pair, bool]:
    """Queue the decision's write if it can be written; the pair to record, and if it wrote."""
    if decision.write_side is None:
        return decision.pair, False
    entry = patch_entry(slot.end(decision.write_side), decision.write_value)
    if entry is None:
        return now, False
    patches.add(decision.write_side, entry)
    return decision.pair, True
