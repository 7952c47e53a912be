"""The replay property: any delivery of a history ends in the ledger the history implies."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.ledger.entries import Entry, quantize
from bridge.ledger.rules import DealObservation, entries_for, rule_names
from bridge.model import Semantics
from tests.ledger.factories import LOST, OPEN, WON, commission, obs, of_amount, of_fee, of_payments

RULES = commission(of_amount("0.25"), of_fee("0.10", hold_days=14), of_payments("0.40"))
amounts = st.sampled_from([None, "0", "100", "100.01", "1200000", "333.33", "0.05"])
one = st.builds(
    lambda day, stage, amount, fee, paid: obs(day, stage, amount, fee=fee, paid=paid),
    st.integers(0, 30),
    st.sampled_from([OPEN, WON, LOST]),
    amounts,
    amounts,
    st.sampled_from([None, "0", "10", "25.5", "100", "250", "1000.01"]),
)
histories = st.lists(one, min_size=1, max_size=12)


def totals(entries: Sequence[Entry]) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for e in entries:
        sums[(e.rule, e.currency)] += e.amount
    return {k: v for k, v in sums.items() if v}


def expected(history: Sequence[DealObservation]) -> dict[tuple[str, str], Decimal]:
    """Recompute from the final state directly, without the step machinery."""
    ordered = sorted(set(history), key=DealObservation.sort_key)
    last, sums = ordered[-1], {}
    names = rule_names(RULES)
    if last.stage is Semantics.WON:
        for name, base in ((names[0], last.amount), (names[1], last.fee)):
            rate = RULES.rules[names.index(name)].rate
            if base is not None and quantize(rate * base.amount, "RUB"):
                sums[(name, base.currency)] = quantize(rate * base.amount, "RUB")
    paid = [o.paid for o in ordered if o.paid is not None]
    if paid and quantize(Decimal("0.40") * paid[-1].amount, "RUB"):
        sums[(names[2], "RUB")] = quantize(Decimal("0.40") * paid[-1].amount, "RUB")
    return sums


def deliver(order: Sequence[DealObservation]) -> list[Entry]:
    """Feed observations one at a time, as webhooks would, booking what each derivation says."""
    ledger: list[Entry] = []
    seen: list[DealObservation] = []
    for o in order:
        seen.append(o)
        new = entries_for(seen, RULES, ledger)
        assert not {e.key for e in new} & {e.key for e in ledger}, "cause booked twice"
        ledger += new
    return ledger


@settings(max_examples=300, deadline=None)
@given(histories, st.randoms(use_true_random=False))
def test_batch_derivation_ignores_order_and_duplicates(
    history: list[DealObservation], rnd: random.Random
) -> None:
    noisy = history + rnd.sample(history, k=len(history) // 2)
    rnd.shuffle(noisy)
    assert entries_for(noisy, RULES, []) == entries_for(history, RULES, [])


@settings(max_examples=300, deadline=None)
@given(histories, st.randoms(use_true_random=False))
def test_any_delivery_order_ends_at_the_recomputed_balance(
    history: list[DealObservation], rnd: random.Random
) -> None:
    order = history + rnd.sample(history, k=len(history) // 2)
    rnd.shuffle(order)
    ledger = deliver(order)
    assert totals(ledger) == expected(history) == totals(entries_for(history, RULES, []))
    assert entries_for(history, RULES, ledger) == []  # a full replay books nothing
    assert entries_for(order, RULES, ledger) == []


@settings(max_examples=200, deadline=None)
@given(histories)
def test_in_order_delivery_books_exactly_what_the_batch_derives(
    history: list[DealObservation],
) -> None:
    ordered = sorted(set(history), key=DealObservation.sort_key)
    assert sorted(deliver(ordered), key=repr) == sorted(entries_for(history, RULES, []), key=repr)
