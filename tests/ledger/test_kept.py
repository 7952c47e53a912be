"""The rule for a deal deleted or moved out of the partner pipeline after accrual.

Commission booked stays (a deletion in a CRM is no evidence the money did not happen);
a zero-amount notice records it once per ending, and the statement says so.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bridge.ledger.entries import Entry, EntryKind
from bridge.ledger.locale import Texts
from bridge.ledger.render import operation
from bridge.ledger.rules import entries_for, kept_notices
from tests.ledger.factories import WON, at, commission, obs, of_amount, of_fee


def _booked() -> list[Entry]:
    history = [obs(0, WON, "1200000.00")]
    return entries_for(history, commission(of_amount("0.25")), [])


def test_a_deleted_partner_deal_keeps_its_commission_with_a_notice() -> None:
    booked = _booked()
    (notice,) = kept_notices("alfa", "101", "orphaned", commission(of_amount()), booked, at(5))
    assert notice.kind is EntryKind.NOTICE and notice.amount == Decimal("0.00")
    assert notice.base == Decimal("300000.00")  # what stays booked
    assert notice.cause == "percent_of_amount:kept#1:orphaned"
    assert sum(e.amount for e in [*booked, notice]) == Decimal("300000.00")
    # once per ending: asking again books nothing
    again = kept_notices("alfa", "101", "closed", commission(of_amount()), [*booked, notice], at(6))
    assert again == []


def test_nothing_booked_means_no_notice() -> None:
    assert kept_notices("alfa", "101", "closed", commission(of_amount(), of_fee()), [], at(1)) == []


def test_the_statement_line_says_why_the_commission_stays() -> None:
    (notice,) = kept_notices("alfa", "101", "closed", commission(of_amount()), _booked(), at(5))
    assert operation(notice, Texts("ru")) == (
        "Начисление сохранено · сделка удалена или выведена из партнёрской воронки после начисления"
    )
    assert operation(notice, Texts("en")).startswith("Commission kept · the deal was deleted")


def test_an_unknown_ending_is_refused() -> None:
    with pytest.raises(ValueError, match="orphaned"):
        kept_notices("alfa", "101", "lost", commission(of_amount()), _booked(), at(5))
