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

Effective dates (``from:``/``until:`` on a rule): a won episode belongs to the rule in
force on the day it was won — its later adjustments and its reversal too — and a
payment step to the rule in force on the day of the payment. A rule that ends keeps
its entries; the rule that follows books only what falls in its own window. A dated
rule is named ``<kind>@<from>``, so adding it never renames the rules already booked.

Tiers (``tiers:`` on a rule): the target is the tiered commission of the base
(:mod:`bridge.ledger.tiers`), rounded once; the entry records the split in ``ref``
and no single ``rate``.

Replaying a history books nothing; the same history in any order or with
duplicates derives the identical entries from an empty ledger; delivered piecemeal
in any order, it ends with the same balance (the individual lines may differ,
because an append-only ledger cannot rewrite what it booked before it knew better).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bridge.fx.rates import Conversion
from bridge.ledger import tiers as tiering
from bridge.ledger.entries import PARTNER_LEVEL, Entry, EntryKind, quantize
from bridge.ledger.tiers import Prior
from bridge.mapping.compiled import Commission, CommissionRule, RuleKind, Side, TierBy
from bridge.model import Money, Semantics, require_utc

ZERO = Decimal(0)
# The partner's other wins in the rule's period before a moment (for period tiers).
Volume = Callable[[CommissionRule, dt.datetime], Prior]


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
    # The link's money is taken back from here on, with this reason ("re-routed to
    # iqproject"): won commission is reversed, payment commission reversed to zero. A
    # later observation without it (routed back) books afresh.
    ended: str | None = None
    fx: Conversion | None = None  # ``amount`` converted from the partner's (bridge.ledger.fx)

    def __post_init__(self) -> None:
        object.__setattr__(self, "observed_at", require_utc(self.observed_at, "observed_at"))

    def sort_key(self) -> tuple[dt.datetime, bool, str]:
        # At the same instant an ending sorts after what it ends.
        content = repr((self.stage, self.amount, self.fee, self.paid, self.ended))
        return (self.observed_at, self.ended is not None, content)


@dataclass(frozen=True, slots=True)
class _Step:
    cause: str
    kind: EntryKind
    at: dt.datetime
    base: Decimal  # change of the base at this step
    target: Decimal  # rounded commission after this step
    currency: str
    note: str | None = None  # how a tiered target was computed
    ref: str | None = None  # why, when the step is not the deal's own doing (re-routed)


def rule_names(commission: Commission) -> list[str]:
    """A stable name per rule: its kind, suffixed ``.2``, ``.3`` if a kind repeats.

    A rule with ``from:`` is ``<kind>@<date>`` and does not count in the suffixes, so
    adding a dated rule never renames one already booked.
    """
    names: list[str] = []
    for rule in commission.rules:
        if rule.since is not None:
            names.append(f"{rule.kind.value}@{rule.since.isoformat()}")
            continue
        seen = sum(1 for r in names if r.split(".")[0] == rule.kind.value)
        names.append(rule.kind.value if seen == 0 else f"{rule.kind.value}.{seen + 1}")
    return names


def governs(rule: CommissionRule, at: dt.datetime) -> bool:
    """Whether ``rule`` is in force on ``at``'s UTC day (``from:`` inclusive, ``until:`` not)."""
    day = at.astimezone(dt.UTC).date()
    return (rule.since is None or day >= rule.since) and (rule.until is None or day < rule.until)


def needs_volume(rule: CommissionRule) -> bool:
    return rule.tiers is not None and rule.tiers.by is not TierBy.DEAL_AMOUNT


def entries_for(
    history: Sequence[DealObservation],
    commission: Commission,
    existing: Iterable[Entry],
    volume: Volume | None = None,
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
        if needs_volume(rule) and volume is None:
            raise ValueError(f"rule {name} tiers by the partner's period volume; pass volume=")
        for currency, steps in _by_currency(_steps(rule, name, ordered, volume)).items():
            mine = [e for e in booked if e.rule == name and e.currency == currency]
            out.extend(_entries(ordered[0], rule, name, steps, mine))
    return out


def _steps(
    rule: CommissionRule, name: str, ordered: Sequence[DealObservation], volume: Volume | None
) -> list[_Step]:
    if rule.kind is RuleKind.PERCENT_OF_PAYMENTS:
        return _payment_steps(rule, name, ordered, volume)
    return _won_steps(rule, name, ordered, volume)


def _base(rule: CommissionRule, obs: DealObservation) -> Money | None:
    return obs.amount if rule.kind is RuleKind.PERCENT_OF_AMOUNT else obs.fee


def _prior(rule: CommissionRule, at: dt.datetime, volume: Volume | None) -> Prior:
    return volume(rule, at) if volume is not None and needs_volume(rule) else Prior()


def _won_steps(
    rule: CommissionRule, name: str, ordered: Sequence[DealObservation], volume: Volume | None
) -> list[_Step]:
    """Accrual on reaching won, adjustment on a base change while won, reversal on leaving.

    An episode won on a day the rule does not govern is not this rule's (see the
    module docstring); the tier context (``prior``) is taken once, at the win.
    """
    steps: list[_Step] = []
    won, episode, base = False, 0, None
    prior, mine = Prior(), False
    for obs in ordered:
        now_won = obs.stage is Semantics.WON and obs.ended is None
        new_base = _base(rule, obs) if now_won else None
        if now_won and not won:
            episode += 1
            mine = governs(rule, obs.observed_at)
            prior = _prior(rule, obs.observed_at, volume) if mine else Prior()
        move = _transition(won, now_won, base, new_base)
        if move is not None and mine:
            suffix, kind = move
            suffix = ":ended" if obs.ended is not None and won else suffix
            cause = f"{name}:won#{episode}{suffix}"
            value = _valuer(rule, prior)
            moved = _moves(cause, kind, obs.observed_at, base, new_base, value)
            steps += [dataclasses.replace(m, ref=obs.ended) for m in moved]
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
    rule: CommissionRule, name: str, ordered: Sequence[DealObservation], volume: Volume | None
) -> list[_Step]:
    """One step per change of the cumulative paid field: increase accrues, decrease claws back.

    Only payments made on days the rule governs are its own: each adds
    ``commission(new paid) − commission(old paid)`` to the rule's running target.
    """
    steps: list[_Step] = []
    paid: Money | None = None
    carried: dict[str, Decimal] = {}  # currency → target before this step
    for obs in ordered:
        if obs.ended is not None:  # taken back: as if nothing was paid on this link
            if paid is not None and paid.amount != 0:
                cause = f"{name}:ended@{_label(paid)}"
                gone = Money(ZERO, paid.currency)
                value = _valuer(rule, _prior(rule, obs.observed_at, volume))
                moved = _moves(cause, EntryKind.REVERSAL, obs.observed_at, paid, gone, value)
                steps += [dataclasses.replace(m, ref=obs.ended) for m in moved]
            paid = None
            continue
        if obs.paid is None or obs.paid == paid:
            continue
        if governs(rule, obs.observed_at):
            grew = (
                paid is None or obs.paid.currency != paid.currency or obs.paid.amount > paid.amount
            )
            kind = EntryKind.ACCRUAL if grew else EntryKind.CLAWBACK
            cause = f"{name}:paid@{_label(obs.paid)}"
            value = _valuer(rule, _prior(rule, obs.observed_at, volume))
            if paid is not None and paid.currency == obs.paid.currency:
                old, (new, note) = value(paid)[0], value(obs.paid)
                target = carried.get(obs.paid.currency, ZERO) + new - old
                delta = obs.paid.amount - paid.amount
                steps.append(
                    _Step(cause, kind, obs.observed_at, delta, target, obs.paid.currency, note)
                )
            else:
                steps += _moves(cause, kind, obs.observed_at, paid, obs.paid, value)
            carried[obs.paid.currency] = steps[-1].target
        paid = obs.paid
    return steps


Valuer = Callable[[Money], tuple[Decimal, str | None]]


def _valuer(rule: CommissionRule, prior: Prior) -> Valuer:
    """The rounded commission on a base under ``rule`` (with its tier split, if tiered)."""

    def value(base: Money) -> tuple[Decimal, str | None]:
        if rule.tiers is None:
            return quantize(rule.rate * base.amount, base.currency), None
        exact = tiering.commission(rule.tiers, base.amount, prior)
        rounded = quantize(exact, base.currency)
        return rounded, tiering.explain(rule.tiers, base.amount, prior, rounded, base.currency)

    return value


def _moves(
    cause: str,
    kind: EntryKind,
    at: dt.datetime,
    old: Money | None,
    new: Money | None,
    value: Valuer,
) -> list[_Step]:
    """The step in each currency the base moved in (two when the currency itself changed)."""
    if old is not None and new is not None and old.currency == new.currency:
        delta = new.amount - old.amount
        target, note = value(new)
        return [_Step(cause, kind, at, delta, target, new.currency, note)]
    steps = []
    if old is not None:
        steps.append(_Step(cause, kind, at, -old.amount, ZERO, old.currency))
    if new is not None:
        target, note = value(new)
        steps.append(_Step(cause, kind, at, new.amount, target, new.currency, note))
    return steps


def _ref(step: _Step) -> str | None:
    """What an entry says of itself: why it happened (re-routed) and how a tier split it."""
    said = [text for text in (step.ref, step.note) if text]
    return "; ".join(said) or None


def _label(money: Money) -> str:
    """The base as written into a cause: fixed-point, in minor units, so 10 and 10.00 agree."""
    return f"{quantize(money.amount, money.currency):f}"


def _by_currency(steps: Sequence[_Step]) -> dict[str, list[_Step]]:
    """Steps per currency, each cause made unique within its sequence (``/2``, ``/3``)."""
    grouped: dict[str, list[_Step]] = {}
    for step in steps:
        seq = grouped.setdefault(step.currency, [])
        used = sum(1 for s in seq if s.cause.split("/")[0] == step.cause)
        cause = step.cause if used == 0 else f"{step.cause}/{used + 1}"
        seq.append(dataclasses.replace(step, cause=cause))
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
        rate=rule.rate if rule.tiers is None else None,
        base=step.base,
        ref=_ref(step),
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


def anniversary(start: dt.date, year: int) -> dt.date:
    """``start``'s day and month in ``year`` (29 February falls on the 28th in other years)."""
    try:
        return start.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def membership_entries(
    partner_code: str,
    fee: Money,
    *,
    since: dt.date,
    until: dt.date,
    not_before: dt.date | None = None,
) -> list[Entry]:
    """The membership fee for every contract year that began from ``since`` to ``until``.

    ``since`` is the start of the contract (the partner's ``joined:`` date, else its first
    sync); a contract year begins on it and on each anniversary, and its fee is payable
    that day — never back-dated to 1 January, never before the start. Cause
    ``membership:<year the contract year began>`` makes it at most once per contract year
    however often this runs (and matches the calendar-year causes booked before).
    ``not_before``: contract years that ended by this day are not owed here (a partner
    that joined years before the bridge owes the year in progress, not every past one).
    """
    out = []
    for year in range(since.year, until.year + 1):
        start = anniversary(since, year)
        if start > until:
            break
        if not_before is not None and anniversary(since, year + 1) <= not_before:
            continue
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
