"""Two-level programmes: the parent's override on its child's commission (pure)."""

from __future__ import annotations

from decimal import Decimal

from bridge.ledger.entries import EntryKind
from bridge.ledger.overrides import override_entries
from bridge.ledger.rules import entries_for
from bridge.mapping.compiled import Override, Side
from tests.ledger.factories import LOST, WON, commission, obs, of_amount

D = Decimal
FIVE = Override(parent="agent", rate=D("0.05"), of="commission", payer=Side.AGENCY)


def test_a_parent_earns_5_percent_of_its_childs_25_000_commission() -> None:
    child = entries_for([obs(0, WON, "100000.00")], commission(of_amount("0.25")), [])
    assert [e.amount for e in child] == [D("25000.00")]
    (parent,) = override_entries("alfa", FIVE, child, [])
    # 5 % × 25 000.00 = 1 250.00, owed by the agency to the parent, on the child's deal
    assert (parent.partner, parent.amount, parent.payer) == ("agent", D("1250.00"), Side.AGENCY)
    assert (parent.deal_id, parent.rule, parent.kind) == ("101", "override:alfa", EntryKind.ACCRUAL)
    assert parent.cause == "override:alfa:percent_of_amount:won#1"
    assert (parent.rate, parent.base) == (D("0.05"), D("25000.00"))
    assert override_entries("alfa", FIVE, child, [parent]) == []  # booked once


def test_the_override_follows_a_reversal_and_never_drifts_by_rounding() -> None:
    history = [obs(0, WON, "1001"), obs(1, WON, "1003"), obs(2, LOST)]
    child = entries_for(history, commission(of_amount("0.25")), [])
    # child: 250.25, then +0.50 (250.75), then −250.75
    assert [e.amount for e in child] == [D("250.25"), D("0.50"), D("-250.75")]
    parent = override_entries("alfa", FIVE, child, [])
    # 5 % × 250.25 = 12.5125 → 12.51; 5 % × 250.75 = 12.5375 → 12.54 (+0.03); then back to 0
    assert [(e.kind, e.amount) for e in parent] == [
        (EntryKind.ACCRUAL, D("12.51")),
        (EntryKind.ACCRUAL, D("0.03")),
        (EntryKind.REVERSAL, D("-12.54")),
    ]
    # delivered piecemeal, the parent ends on the same total
    first = override_entries("alfa", FIVE, child[:1], [])
    rest = override_entries("alfa", FIVE, child, first)
    assert sum(e.amount for e in [*first, *rest]) == D(0)
