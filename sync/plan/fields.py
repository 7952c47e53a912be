"""Per-field three-way sync: who changed what since the last sync, and who wins.

A :class:`Rule` is one mirrored slot (a field map, the built-in title/amount, or the
stage). :func:`reconcile` compares each side's current normalised value with the
pair stored at the last sync and decides:

* nothing changed → nothing to do (this is also how our own echo is recognised:
  the pair holds exactly what we wrote);
* one-way field (``to_partner``/``to_agency``): the source's value is carried to
  the target whenever either moved; a target-side edit that gets overwritten is
  audited;
* ``both``: only one side changed → carry it over; both changed to values that
  agree → record, write nothing; both changed and disagree → the owner wins and
  the overruled value is audited.

A :class:`~sync.plan.convert.Refused` translation surfaces as ``Decision.refused``; the
caller parks the link. An :class:`~sync.plan.convert.Unset` writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bridge.mapping.compiled import Direction, Side
from bridge.model import CanonicalValue, Deal, LinkKey
from sync.plan.convert import Ok, Refused, Result, Unset
from sync.plan.types import AuditEntry

Pair = tuple[CanonicalValue, CanonicalValue]
Translate = Callable[[CanonicalValue], Result]
Read = Callable[[Deal], CanonicalValue]


@dataclass(frozen=True, slots=True)
class Rule:
    """How one slot is read on each side and translated between them."""

    name: str
    direction: Direction
    owner: Side | None
    read_agency: Read
    read_partner: Read
    to_partner: Translate
    to_agency: Translate
    create_only: bool = False  # contact/company slots: carried on create, never patched

    def read(self, side: Side, deal: Deal) -> CanonicalValue:
        return self.read_agency(deal) if side is Side.AGENCY else self.read_partner(deal)

    def translate(self, source: Side, value: CanonicalValue) -> Result:
        return self.to_partner(value) if source is Side.AGENCY else self.to_agency(value)

    def agree(self, agency: CanonicalValue, partner: CanonicalValue) -> bool:
        """Either side's value, carried over, equals the other's."""
        there = self.to_partner(agency)
        back = self.to_agency(partner)
        return (isinstance(there, Ok) and there.value == partner) or (
            isinstance(back, Ok) and back.value == agency
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one slot: at most one write, the new pair, audit, or a refusal."""

    pair: Pair
    write_side: Side | None = None
    write_value: CanonicalValue = None
    audit: tuple[AuditEntry, ...] = ()
    refused: str | None = None


def other(side: Side) -> Side:
    return Side.PARTNER if side is Side.AGENCY else Side.AGENCY


def _pair_with(pair: Pair, side: Side, value: CanonicalValue) -> Pair:
    return (value, pair[1]) if side is Side.AGENCY else (pair[0], value)


def _half(pair: Pair | None, side: Side) -> CanonicalValue:
    if pair is None:
        return None
    return pair[0] if side is Side.AGENCY else pair[1]


def reconcile(rule: Rule, now: Pair, base: Pair | None, key: LinkKey) -> Decision:
    """Decide one slot from the current (agency, partner) values and the last-sync pair."""
    changed = {
        Side.AGENCY: base is None or now[0] != base[0],
        Side.PARTNER: base is None or now[1] != base[1],
    }
    if base is not None and not any(changed.values()):
        return Decision(pair=base)
    if rule.direction is not Direction.BOTH:
        source = Side.AGENCY if rule.direction is Direction.TO_PARTNER else Side.PARTNER
        target = other(source)
        overruled = changed[target] and not (base is None and _half(now, target) is None)
        return _flow(rule, source, now, base, key, audit=overruled)
    if changed[Side.AGENCY] != changed[Side.PARTNER]:
        source = Side.AGENCY if changed[Side.AGENCY] else Side.PARTNER
        return _flow(rule, source, now, base, key, audit=False)
    return _both_changed(rule, now, base, key)


def _both_changed(rule: Rule, now: Pair, base: Pair | None, key: LinkKey) -> Decision:
    if rule.agree(*now):
        if base is None:
            return Decision(pair=now)
        entry = AuditEntry(key, rule.name, Side.PARTNER, base[1], now[1], None, now[1])
        return Decision(pair=now, audit=(entry,))
    owner = rule.owner or Side.AGENCY
    return _flow(rule, owner, now, base, key, audit=True)


def _flow(
    rule: Rule, source: Side, now: Pair, base: Pair | None, key: LinkKey, *, audit: bool
) -> Decision:
    target = other(source)
    result = rule.translate(source, _half(now, source))
    if isinstance(result, Refused):
        return Decision(pair=now, refused=result.reason)
    if isinstance(result, Unset):
        return Decision(pair=now)
    want, current = result.value, _half(now, target)
    if want == current:
        return Decision(pair=now)
    entries: tuple[AuditEntry, ...] = ()
    if audit:
        old = _half(base, target)
        entries = (AuditEntry(key, rule.name, target, old, want, source, current),)
    return Decision(
        pair=_pair_with(now, target, want), write_side=target, write_value=want, audit=entries
    )
