"""The pure core: a deal's observed history → the ledger entries it implies.

No I/O. The sync engine records one :class:`DealObservation` per applied change of
a link and calls :func:`entries_for` with the link's whole history and the entries
already booked for it; the result is what to append.

How exactly-once survives duplicated and reordered webhooks:

1. The history is deduplicated and sorted by ``observed_at`` (ties broken by the
   observation's content), so arrival order never matters.
2. Each rule walks the sorted history and produces *steps*: a deterministic cause
   (``percent_of_amount:won#1``, ``…:won#1:adjust@1300000.00``, ``…:won#1:reversal``,
   ``percent_of_payments:paid@250000.00``) and the rule's *target* after that step:
   the rounded commission on the base as it then stood.
3. Steps up to the last one already booked are taken as covered. Each later step
   books ``target − running total``, so the booked sum always ends equal to the
   target of the latest observation; a late observation that lands before booked
   steps books only what is still missing.

If the booked sum still differs from the latest target (the rule's rate was changed
in ``mapping.yaml``), one ``…:fix#n`` adjustment brings it in line: the ledger always
converges on rate × current base, at the deal's next derivation.

Rounding: an entry books ``round(rate × new base) − round(rate × old base)``, so each
entry is in whole minor units and their sum never drifts from the rounded commission.

Replaying a history books nothing; the same history in any order or with
duplicates derives the identical entries from an empty ledger; delivered piecemeal
in any order, it ends with the same balance (the individual lines may differ,
because an append-only ledger cannot rewrite what it booked before it knew better).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bridge.fx.rates import Conversion
from bridge.ledger.entries import PARTNER_LEVEL, Entry, EntryKind, quantize
from bridge.mapping.compiled import Commission, CommissionRule, RuleKind, Side
from bridge.model import Money, Semantics, require_utc

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class DealObservation:
    """A link's state as the bridge saw it at ``observed_at`` (aware, UTC)."""

    agency_deal_id: str
    partner_code: str
    observed_at: dt.datetime
    stage: Semantics
    amount: Money | None = None
    fee: Money | None = None
    paid: Money | None = None  # cumulative; None = not known in this observation
    fx: Conversion | None = None  # ``amount`` converted from the partner's (bridge.ledger.fx)

    def __post_init__(self) -> None:
        object.__setattr__(self, "observed_at", require_utc(self.observed_at, "observed_at"))

    def sort_key(self) -> tuple[dt.datetime, str]:
        return (self.observed_at, repr((self.stage, self.amount, self.fee, self.paid)))


@dataclass(frozen=True, slots=True)
class _Step:
    cause: str
    kind: EntryKind
    at: dt.datetime
    base: Decimal  # change of the base at this step
    target: Decimal  # rounded commission after this step
    currency: str


def rule_names(commission: Commission) -> list[str]:
    """A stable name per rule: its kind, suffixed ``.2``, ``.3`` if a kind repeats."""
    names: list[str] = []
    for rule in commission.rules:
        seen = sum(1 for r in names if r.split(".")[0] == rule.kind.value)
        names.append(rule.kind.value if seen == 0 else f"{rule.kind.value}.{seen + 1}")
    return names


def entries_for(
    history: Sequence[DealObservation], commission: Commission, existing: Iterable[Entry]
) -> list[Entry]:
    """The entries ``history`` implies for its link that ``existing`` does not hold yet."""
    ordered = sorted(set(history), key=DealObservation.sort_key)
    if not ordered:
        return []
    keys = {(o.agency_deal_id, o.partner_code) for o in ordered}
    if len(keys) != 1:
        raise ValueError(f"one link's history expected, got {sorted(keys)}")
    booked = list(existing)
    out: list[Entry] = []
    for name, rule in zip(rule_names(commission), commission.rules, strict=True):
        for currency, steps in _by_currency(_steps(rule, name, ordered)).items():
            mine = [e for e in booked if e.rule == name and e.currency == currency]
            out.extend(_entries(ordered[0], rule, name, steps, mine))
    return out


def _steps(rule: CommissionRule, name: str, ordered: Sequence[DealObservation]) -> list[_Step]:
    if rule.kind is RuleKind.PERCENT_OF_PAYMENTS:
        return _payment_steps(rule, name, ordered)
    return _won_steps(rule, name, ordered)


def _base(rule: CommissionRule, obs: DealObservation) -> Money | None:
    return obs.amount if rule.kind is RuleKind.PERCENT_OF_AMOUNT else obs.fee


def _won_steps(rule: CommissionRule, name: str, ordered: Sequence[DealObservation]) -> list[_Step]:
    """Accrual on reaching won, adjustment on a base change while won, reversal on leaving."""
    steps: list[_Step] = []
    won, episode, base = False, 0, None
    for obs in ordered:
        now_won = obs.stage is Semantics.WON
        new_base = _base(rule, obs) if now_won else None
        if now_won and not won:
            episode += 1
        move = _transition(won, now_won, base, new_base)
        if move is not None:
            suffix, kind = move
            cause = f"{name}:won#{episode}{suffix}"
            steps += _moves(rule, cause, kind, obs.observed_at, base, new_base)
        won, base = now_won, new_base
    return steps


def _transition(
    won: bool, now_won: bool, base: Money | None, new_base: Money | None
) -> tuple[str, EntryKind] | None:
    """The cause suffix and kind of a won-episode transition, or None if nothing moved."""
    if now_won and not won:
        return "", EntryKind.ACCRUAL
    if won and not now_won:
        return ":reversal", EntryKind.REVERSAL
    if won and new_base != base:
        label = "none" if new_base is None else _label(new_base)
        return f":adjust@{label}", EntryKind.ADJUSTMENT
    return None


def _payment_steps(
    rule: CommissionRule, name: str, ordered: Sequence[DealObservation]
) -> list[_Step]:
    """One step per change of the cumulative paid field: increase accrues, decrease claws back."""
    steps: list[_Step] = []
    paid: Money | None = None
    for obs in ordered:
        if obs.paid is None or obs.paid == paid:
            continue
        grew = paid is None or obs.paid.currency != paid.currency or obs.paid.amount > paid.amount
        kind = EntryKind.ACCRUAL if grew else EntryKind.CLAWBACK
        cause = f"{name}:paid@{_label(obs.paid)}"
        steps += _moves(rule, cause, kind, obs.observed_at, paid, obs.paid)
        paid = obs.paid
    return steps


def _moves(
    rule: CommissionRule,
    cause: str,
    kind: EntryKind,
    at: dt.datetime,
    old: Money | None,
    new: Money | None,
) -> list[_Step]:
    """The step in each currency the base moved in (two when the currency itself changed)."""
    if old is not None and new is not None and old.currency == new.currency:
        delta = new.amount - old.amount
        return [_Step(cause, kind, at, delta, _target(rule, new), new.currency)]
    steps = []
    if old is not None:
        steps.append(_Step(cause, kind, at, -old.amount, ZERO, old.currency))
    if new is not None:
        steps.append(_Step(cause, kind, at, new.amount, _target(rule, new), new.currency))
    return steps


def _label(money: Money) -> str:
    """The base as written into a cause: fixed-point, in minor units, so 10 and 10.00 agree."""
    return f"{quantize(money.amount, money.currency):f}"


def _target(rule: CommissionRule, base: Money) -> Decimal:
    return quantize(rule.rate * base.amount, base.currency)


def _by_currency(steps: Sequence[_Step]) -> dict[str, list[_Step]]:
    """Steps per currency, each cause made unique within its sequence (``/2``, ``/3``)."""
    grouped: dict[str, list[_Step]] = {}
    for step in steps:
        seq = grouped.setdefault(step.currency, [])
        used = sum(1 for s in seq if s.cause.split("/")[0] == step.cause)
        cause = step.cause if used == 0 else f"{step.cause}/{used + 1}"
        seq.append(_Step(cause, step.kind, step.at, step.base, step.target, step.currency))
    return grouped


def _entries(
    first: DealObservation,
    rule: CommissionRule,
    name: str,
    steps: Sequence[_Step],
    booked: Sequence[Entry],
) -> list[Entry]:
    causes = {e.cause for e in booked}
    last = max((i for i, s in enumerate(steps) if s.cause in causes), default=-1)
    running = sum((e.amount for e in booked), ZERO)
    out: list[Entry] = []
    for step in steps[last + 1 :]:
        if step.target != running:
            out.append(_entry(first, rule, name, step, step.target - running))
            running = step.target
    final = steps[-1].target if steps else ZERO
    if running != final:  # bookings made under another rate (see the module docstring)
        fixes = sum(1 for c in causes if c.startswith(f"{steps[-1].cause}:fix#"))
        fix = _Step(
            f"{steps[-1].cause}:fix#{fixes + 1}",
            EntryKind.ADJUSTMENT,
            steps[-1].at,
            ZERO,
            final,
            steps[-1].currency,
        )
        out.append(_entry(first, rule, name, fix, final - running))
    return out


def _entry(
    link: DealObservation, rule: CommissionRule, name: str, step: _Step, amount: Decimal
) -> Entry:
    delay = dt.timedelta(days=rule.due_days + rule.hold_days) if amount > 0 else dt.timedelta()
    kind = step.kind
    if kind is EntryKind.ACCRUAL and amount < 0:
        kind = EntryKind.ADJUSTMENT  # a late observation made this step smaller than booked
    return Entry(
        partner=link.partner_code,
        deal_id=link.agency_deal_id,
        cause=step.cause,
        kind=kind,
        rule=name,
        amount=amount,
        currency=step.currency,
        payer=rule.payer,
        occurred_at=step.at,
        payable_at=step.at + delay,
        rate=rule.rate,
        base=step.base,
    )


KEPT_WHY = ("orphaned", "closed")


def kept_notices(
    partner_code: str,
    deal_id: str,
    why: str,
    commission: Commission,
    existing: Sequence[Entry],
    at: dt.datetime,
) -> list[Entry]:
    """Say, in the ledger, that booked commission stays after the deal's link ended.

    The rule (DESIGN §6): a partner deal deleted (``why="orphaned"``) or an agency deal
    deleted, moved out of the partner pipeline or un-routed (``"closed"``) after
    accrual does **not** reverse what was booked — a deletion in a CRM is no evidence
    that the money did not happen, and reversing on it would let a deletion erase a
    debt. Instead one zero-amount :attr:`EntryKind.NOTICE` per rule with a non-zero
    booked total records it, so the statement shows the deal's commission was kept and
    why; a person who knows the deal did not happen corrects it by appending (a void).
    A notice is booked once per ending: not again while no money moved after it.
    """
    if why not in KEPT_WHY:
        raise ValueError(f"why must be one of {KEPT_WHY}, got {why!r}")
    out: list[Entry] = []
    for name, rule in zip(rule_names(commission), commission.rules, strict=True):
        mine = sorted(
            (e for e in existing if e.rule == name and e.deal_id == deal_id),
            key=lambda e: (e.occurred_at, e.cause),
        )
        money = [e for e in mine if e.kind is not EntryKind.NOTICE]
        for currency in sorted({e.currency for e in money}):
            booked = sum((e.amount for e in money if e.currency == currency), ZERO)
            last = [e for e in mine if e.currency == currency]
            if booked == 0 or (last and last[-1].kind is EntryKind.NOTICE):
                continue
            count = sum(1 for e in mine if e.kind is EntryKind.NOTICE and e.currency == currency)
            out.append(
                Entry(
                    partner=partner_code,
                    deal_id=deal_id,
                    cause=f"{name}:kept#{count + 1}:{why}",
                    kind=EntryKind.NOTICE,
                    rule=name,
                    amount=quantize(ZERO, currency),
                    currency=currency,
                    payer=rule.payer,
                    occurred_at=at,
                    payable_at=at,
                    base=booked,
                    ref=why,
                )
            )
    return out


def membership_entries(
    partner_code: str, fee: Money, *, since: dt.date, until: dt.date
) -> list[Entry]:
    """The yearly membership fee for every calendar year from ``since`` to ``until``.

    Cause ``membership:<year>`` makes it at most once per year however often this runs;
    the first year is payable from ``since``, later years from 1 January.
    """
    out = []
    for year in range(since.year, until.year + 1):
        start = max(since, dt.date(year, 1, 1))
        at = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
        out.append(
            Entry(
                partner=partner_code,
                deal_id=PARTNER_LEVEL,
                cause=f"membership:{year}",
                kind=EntryKind.MEMBERSHIP,
                rule="membership",
                amount=quantize(fee.amount, fee.currency),
                currency=fee.currency,
                payer=Side.PARTNER,
                occurred_at=at,
                payable_at=at,
                base=fee.amount,
            )
        )
    return out


def payout_entry(
    partner_code: str, amount: Money, *, payer: Side, at: dt.datetime, ref: str
) -> Entry:
    """A payment made by ``payer``. ``ref`` identifies it: recording it twice is a no-op."""
    if amount.amount <= 0:
        raise ValueError(f"a payout must be positive, got {amount}")
    return Entry(
        partner=partner_code,
        deal_id=PARTNER_LEVEL,
        cause=f"payout:{ref}",
        kind=EntryKind.PAYOUT,
        rule="payout",
        amount=quantize(amount.amount, amount.currency),
        currency=amount.currency,
        payer=payer,
        occurred_at=at,
        payable_at=at,
        ref=ref,
    )
