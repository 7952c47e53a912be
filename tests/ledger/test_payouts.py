"""Payout runs: who is in a run, netting, minimum, run ids, recording entries (pure)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bridge.ledger.balances import sums
from bridge.ledger.entries import Entry
from bridge.ledger.payouts import build_run, purpose, run_day, run_entries
from bridge.ledger.rules import entries_for
from bridge.mapping.compiled import PayoutSchedule, ScheduleKind, Side
from tests.ledger.factories import WON, commission, obs, of_amount, of_fee

D = Decimal
TWICE = PayoutSchedule(ScheduleKind.TWICE_MONTHLY, days=(1, 15), netting=True)


def won_deal() -> list[Entry]:
    """Partner owes 25 % of a 100 000 win; the agency owes it 10 % of a 50 000 fee."""
    history = [obs(0, WON, "100000.00", fee="50000.00")]  # 2 November 2026
    return entries_for(history, commission(of_amount("0.25"), of_fee("0.10")), [])


def test_a_twice_monthly_run_nets_25_percent_owed_against_10_percent_due() -> None:
    entries = won_deal()
    assert sorted((e.payer, e.amount) for e in entries) == [
        (Side.AGENCY, D("5000.00")),
        (Side.PARTNER, D("25000.00")),
    ]
    run = build_run(entries, {"alfa": TWICE}, dt.date(2026, 11, 15))
    (line,) = run.lines
    # 25 000.00 owed by the partner − 5 000.00 owed by the agency = 20 000.00, partner → agency
    assert (line.payer, line.amount) == (Side.PARTNER, D("20000.00"))
    assert (line.partner_owes, line.agency_owes, line.netted) == (D("25000.00"), D("5000.00"), True)
    assert line.period_start == dt.date(2026, 11, 2)
    assert purpose(line, run.run_id) == (
        f"Оплата комиссии агентства за период 02.11.2026–15.11.2026 по реестру {run.run_id} "
        "(взаимозачёт: агентство 5000.00, партнёр 25000.00 RUB)"
    )
    booked = run_entries(run, dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC))
    # recording books both sides' gross, so both directions end at zero
    assert sorted((e.payer, e.amount) for e in booked) == [
        (Side.AGENCY, D("5000.00")),
        (Side.PARTNER, D("25000.00")),
    ]
    assert set(sums([*entries, *booked]).values()) == {D(0)}
    after = build_run([*entries, *booked], {"alfa": TWICE}, dt.date(2026, 11, 15))
    assert after.lines == ()


def test_without_netting_each_direction_is_its_own_line() -> None:
    apart = PayoutSchedule(ScheduleKind.TWICE_MONTHLY, days=(1, 15))
    run = build_run(won_deal(), {"alfa": apart}, dt.date(2026, 11, 15))
    assert [(ln.payer, ln.amount) for ln in run.lines] == [
        (Side.AGENCY, D("5000.00")),
        (Side.PARTNER, D("25000.00")),
    ]


def test_only_partners_whose_schedule_runs_that_day_or_who_asked_are_in_the_run() -> None:
    friday = PayoutSchedule(ScheduleKind.WEEKLY, weekday=4)
    entries = won_deal()
    thursday = dt.date(2026, 11, 19)
    run = build_run(entries, {"alfa": friday}, thursday)
    assert run.lines == () and run.skipped == (("alfa", "not a run day (weekly on friday)"),)
    asked = build_run(entries, {"alfa": friday}, thursday, {"alfa": {"RUB": D("5000.00")}})
    assert [ln.requested for ln in asked.lines] == [D("5000.00"), None]  # agency's line only
    assert build_run(entries, {"alfa": friday}, dt.date(2026, 11, 20)).lines != ()
    none = build_run(entries, {}, dt.date(2026, 11, 20))
    assert none.lines == () and "no payouts: schedule" in none.skipped[0][1]


def test_a_line_below_the_minimum_carries_over_and_is_not_recorded() -> None:
    high = PayoutSchedule(ScheduleKind.TWICE_MONTHLY, days=(1, 15), minimum=D(30000))
    run = build_run(won_deal(), {"alfa": high}, dt.date(2026, 11, 15))
    assert all(line.carried for line in run.lines)
    assert run.payable == [] and run_entries(run, dt.datetime(2026, 11, 15, tzinfo=dt.UTC)) == []


def test_the_last_day_of_a_short_month_is_a_run_day_for_day_31() -> None:
    month_end = PayoutSchedule(ScheduleKind.TWICE_MONTHLY, days=(15, 31))
    assert month_end.runs_on(dt.date(2026, 11, 30)) and month_end.runs_on(dt.date(2026, 12, 31))
    assert not month_end.runs_on(dt.date(2026, 12, 30))


def test_within_days_counts_from_the_entrys_own_time_and_marks_late_lines() -> None:
    within = PayoutSchedule(ScheduleKind.WITHIN, within_days=3)
    entries = won_deal()  # occurred 2 November 09:00
    on_time = build_run(entries, {"alfa": within}, dt.date(2026, 11, 4))
    assert {ln.deadline for ln in on_time.lines} == {dt.datetime(2026, 11, 5, 9, tzinfo=dt.UTC)}
    assert not any(ln.late for ln in on_time.lines)
    assert all(ln.late for ln in build_run(entries, {"alfa": within}, dt.date(2026, 11, 6)).lines)


def test_the_run_id_is_the_day_and_a_digest_of_the_content() -> None:
    entries = won_deal()
    day = dt.date(2026, 11, 15)
    first = build_run(entries, {"alfa": TWICE}, day).run_id
    assert first == build_run(list(reversed(entries)), {"alfa": TWICE}, day).run_id
    assert first.startswith("20261115-") and run_day(first) == day
    more = entries_for([obs(1, WON, "4", deal="102")], commission(of_amount("0.25")), [])
    assert build_run([*entries, *more], {"alfa": TWICE}, day).run_id != first
    with pytest.raises(ValueError, match="not a run id"):
        run_day("2026-11-15")
