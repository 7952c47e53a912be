"""Two-level programmes: a parent partner's override on its children's commission. Pure.

``override: {percent: 5, of: commission, payer: agency}`` on the parent and
``parent: <code>`` on a child: the parent earns 5 % of the commission booked for
the child, paid by ``payer``. The base (``of: commission``) is every commission
entry of the child as booked — accruals, adjustments, reversals, clawbacks and
voids of them, whoever pays — never payouts, membership fees or notices.

Entries land on the parent with the child's deal id, rule ``override:<child>`` and
cause ``override:<child>:<child's cause>``, so they are booked once. Like every rule
the override converges: after each child entry the parent's target is
``round(percent × the child's running commission on the deal)`` (half-up, to the
minor unit), and the parent's entry books the target minus what is already booked —
so the override on a deal never drifts by rounding from percent × the child's total.
Worked: the child earns 25 000.00 → the parent earns 5 % × 25 000.00 = 1 250.00.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bridge.ledger.entries import Entry, EntryKind, quantize
from bridge.mapping.compiled import Override

ZERO = Decimal(0)
_BASE_KINDS = {EntryKind.ACCRUAL, EntryKind.ADJUSTMENT, EntryKind.REVERSAL, EntryKind.CLAWBACK}


def override_rule(child: str) -> str:
    return f"override:{child}"


def counts(entry: Entry) -> bool:
    """Whether ``entry`` is commission the override is a percent of."""
    return entry.kind in _BASE_KINDS and not entry.rule.startswith("override:")


@dataclass(frozen=True, slots=True)
class _Step:
    source: Entry
    target: Decimal


def override_entries(
    child: str, override: Override, child_entries: Sequence[Entry], booked: Sequence[Entry]
) -> list[Entry]:
    """The parent's entries the child's entries on one deal imply and ``booked`` lacks.

    ``child_entries``: the child's entries on the deal in booking order; ``booked``:
    the parent's entries on that deal (any rule; only ``override:<child>`` count).
    """
    rule = override_rule(child)
    mine = [e for e in booked if e.rule == rule]
    out: list[Entry] = []
    for currency in sorted({e.currency for e in child_entries if counts(e)}):
        running = ZERO
        steps: list[_Step] = []
        for entry in child_entries:
            if entry.currency != currency or not counts(entry):
                continue
            running += entry.amount
            steps.append(_Step(entry, quantize(override.rate * running, currency)))
        out.extend(_book(child, override, steps, [e for e in mine if e.currency == currency]))
    return out


def _book(child: str, override: Override, steps: list[_Step], booked: list[Entry]) -> list[Entry]:
    causes = {e.cause for e in booked}
    last = max((i for i, s in enumerate(steps) if _cause(child, s.source) in causes), default=-1)
    running = sum((e.amount for e in booked), ZERO)
    out: list[Entry] = []
    for step in steps[last + 1 :]:
        amount = step.target - running
        if amount == 0:
            continue
        source = step.source
        kind = EntryKind.ACCRUAL if amount > 0 else EntryKind.REVERSAL
        out.append(
            Entry(
                partner=override.parent,
                deal_id=source.deal_id,
                cause=_cause(child, source),
                kind=kind,
                rule=override_rule(child),
                amount=amount,
                currency=source.currency,
                payer=override.payer,
                occurred_at=source.occurred_at,
                payable_at=source.payable_at,
                rate=override.rate,
                base=source.amount,
                ref=f"{child}: {source.cause}",
            )
        )
        running = step.target
    return out


def _cause(child: str, source: Entry) -> str:
    return f"{override_rule(child)}:{source.cause}"
