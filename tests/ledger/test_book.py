"""The ledger in the database (SQLite and PostgreSQL): append-only, exactly once."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError

from bridge.ledger import book
from bridge.ledger.balances import sums
from bridge.ledger.rules import DealObservation, entries_for, membership_entries, payout_entry
from bridge.ledger.tables import LedgerEntryRow
from bridge.mapping.compiled import Side
from bridge.store.db import Store
from tests.ledger.factories import OPEN, WON, at, commission, obs, of_amount, of_payments, rub
from tests.ledger.test_replay_property import RULES, histories

NOW = dt.datetime(2026, 11, 24, 22, 0, tzinfo=dt.UTC)
DEAL_IDS = itertools.count()


def test_entries_round_trip_exactly(store: Store) -> None:
    rules = commission(of_amount("0.125"))
    (entry,) = entries_for([obs(0, WON, "1234567.89")], rules, [])
    pay = payout_entry("alfa", rub("0.01"), payer=Side.PARTNER, at=at(1), ref="платёж «1»")
    with store.transaction() as session:
        assert book.append(session, [entry, pay], NOW) == 2
    with store.transaction() as session:
        back = book.read(session, partner="alfa")
    assert back == [entry, pay]
    assert str(back[0].amount) == "154320.99" and back[0].occurred_at.tzinfo is not None
    assert back[1].ref == "платёж «1»"


def test_appending_a_duplicate_is_a_no_op(store: Store) -> None:
    fee = membership_entries("alfa", rub(50000), since=dt.date(2026, 1, 1), until=NOW.date())
    with store.transaction() as session:
        assert book.append(session, fee, NOW) == 1
    with store.transaction() as session:
        assert book.append(session, fee + fee, NOW) == 0
        assert len(book.read(session)) == 1


def test_the_database_refuses_a_second_row_for_a_cause(store: Store) -> None:
    """Uniqueness is a constraint, not just a habit of :func:`book.append`."""

    def row() -> LedgerEntryRow:
        return LedgerEntryRow(
            partner_code="alfa",
            agency_deal_id="101",
            cause="percent_of_amount:won#1",
            kind="accrual",
            rule="percent_of_amount",
            amount=Decimal("1.00"),
            currency="RUB",
            payer="partner",
            occurred_at=NOW,
            payable_at=NOW,
            created_at=NOW,
        )

    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(row())
        session.add(row())
        session.flush()


def test_replaying_a_history_books_nothing_new(store: Store) -> None:
    rules = commission(of_amount("0.25"), of_payments("0.40"))
    history = [obs(0, WON, 1_200_000, paid=100), obs(1, OPEN, 1_200_000, paid=300)]
    for _ in range(3):
        with store.transaction() as session:
            book.record_history(session, history, rules, NOW)
    with store.transaction() as session:
        entries = book.read(session)
    assert len(entries) == 4
    assert sums(entries) == {("alfa", Side.PARTNER, "RUB"): Decimal("120.00")}


def test_concurrent_derivations_book_each_cause_once(store: Store) -> None:
    rules = commission(of_amount("0.25"))
    history = [obs(0, WON, 1000), obs(1, WON, 2000), obs(2, OPEN, 2000), obs(3, WON, 500)]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            with store.transaction() as session:
                book.append(session, entries_for(history, rules, []), NOW)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with store.transaction() as session:
        entries = book.read(session)
    assert len(entries) == 4 and sum(e.amount for e in entries) == Decimal("125.00")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(history=histories, rnd=st.randoms(use_true_random=False))
def test_stored_balance_equals_recomputation_from_history(
    store: Store, history: list[DealObservation], rnd: random.Random
) -> None:
    deal = f"h{next(DEAL_IDS)}"  # the store outlives one example: every example its own deal
    history = [
        DealObservation(deal, o.partner_code, o.observed_at, o.stage, o.amount, o.fee, o.paid)
        for o in history
    ]
    order = history + history[: len(history) // 2]
    rnd.shuffle(order)
    for i in range(1, len(order) + 1):
        with store.transaction() as session:
            book.record_history(session, order[:i], RULES, NOW)
    with store.transaction() as session:
        stored = book.read(session, deal_id=deal)
        assert book.record_history(session, history, RULES, NOW) == []
    recomputed = entries_for(history, RULES, [])
    assert sums(stored) == sums(recomputed)


def test_membership_is_accrued_once_per_contract_year_however_often_the_job_runs(
    store: Store,
) -> None:
    rules = commission(of_amount(), membership=rub(50000))
    start = dt.date(2026, 3, 1)
    days = [
        start,
        dt.date(2026, 3, 2),
        dt.date(2027, 1, 1),
        dt.date(2027, 2, 28),
        start.replace(year=2027),
    ]
    booked = []
    for day in days:
        with store.transaction() as session:
            booked.append(
                len(book.accrue_membership(session, "alfa", rules, day, NOW, started=start))
            )
    assert booked == [1, 0, 0, 0, 1]
    with store.transaction() as session:
        causes = [e.cause for e in book.read(session, partner="alfa")]
        no_fee = commission(of_amount())
        assert book.accrue_membership(session, "beta", no_fee, days[0], NOW, started=start) == []
    assert causes == ["membership:2026", "membership:2027"]


def test_membership_starts_from_the_partners_start_not_from_1_january(store: Store) -> None:
    rules = commission(of_amount(), membership=rub(60000))
    started = dt.date(2026, 11, 20)  # the partner's first sync
    with store.transaction() as session:
        assert (
            book.accrue_membership(
                session, "alfa", rules, dt.date(2026, 11, 19), NOW, started=started
            )
            == []
        )  # not started yet: nothing owed
        (fee,) = book.accrue_membership(
            session, "alfa", rules, dt.date(2026, 12, 4), NOW, started=started
        )
    assert fee.cause == "membership:2026"
    assert fee.payable_at == dt.datetime(2026, 11, 20, tzinfo=dt.UTC)  # not 1 January
