"""``observe``: the sync engine's entry point, exactly once under redelivery and reordering."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from bridge.ledger import book
from bridge.ledger.balances import sums
from bridge.ledger.observations import digest, history, observe
from bridge.ledger.rules import DealObservation, entries_for
from bridge.mapping.compiled import Side
from bridge.model import Money
from bridge.store.db import Store
from tests.ledger.factories import OPEN, WON, commission, obs, of_amount, of_payments

NOW = dt.datetime(2026, 11, 24, 22, 0, tzinfo=dt.UTC)
RULES = commission(of_amount("0.25"), of_payments("0.40"))
HISTORY = [
    obs(0, OPEN, 1_000_000),
    obs(1, WON, 1_200_000, paid=100_000),
    obs(2, WON, 1_300_000, paid=250_000),
    obs(3, OPEN, 1_300_000, paid=250_000),
    obs(4, WON, 1_300_000, paid=200_000),
]


def test_equal_observations_share_a_digest() -> None:
    a = obs(1, WON, "10", paid="5")
    b = DealObservation(
        a.agency_deal_id,
        a.partner_code,
        a.observed_at,
        a.stage,
        Money(Decimal("10.00"), "RUB"),
        None,
        Money(Decimal("5.0"), "RUB"),
    )
    assert digest(a) == digest(b) != digest(obs(1, WON, "10", paid="6"))


def test_redelivered_and_reordered_observations_book_each_cause_once(store: Store) -> None:
    deliveries = HISTORY * 2
    random.Random(7).shuffle(deliveries)
    for o in deliveries:
        with store.transaction() as session:
            observe(session, o, RULES, NOW)
    with store.transaction() as session:
        stored = book.read(session)
        kept = history(session, "alfa", "101")
    assert kept == sorted(HISTORY, key=DealObservation.sort_key)
    assert len({e.key for e in stored}) == len(stored)
    assert sums(stored) == sums(entries_for(HISTORY, RULES, []))
    assert sums(stored) == {("alfa", Side.PARTNER, "RUB"): Decimal("405000.00")}


def test_in_order_observations_book_exactly_the_batch_ledger(store: Store) -> None:
    for o in HISTORY:
        with store.transaction() as session:
            observe(session, o, RULES, NOW)
    with store.transaction() as session:
        stored = book.read(session)
        assert observe(session, HISTORY[2], RULES, NOW) == []
    assert sorted(stored, key=repr) == sorted(entries_for(HISTORY, RULES, []), key=repr)
