"""Hints addressed to one partner (the scale-out agency job's routes): one row per
(system, deal, address) with NULL — unaddressed — a value of its own on both databases,
and each taker gets exactly its share."""

from __future__ import annotations

import datetime as dt
import uuid

from bridge.model import Hint, HintKind
from bridge.store import inbox
from bridge.store.db import Store

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def _hint(system: str, deal: str) -> Hint:
    return Hint(system, deal, HintKind.UPDATED, NOW, "webhook")


def test_addressed_and_unaddressed_hints_fold_per_address_and_go_to_their_taker(
    store: Store,
) -> None:
    agency, alfa = f"agency-{uuid.uuid4().hex[:8]}", f"alfa-{uuid.uuid4().hex[:8]}"
    zero = dt.timedelta(0)
    with store.transaction() as session:
        for _ in range(2):  # a repeat folds into its row, whatever the address
            inbox.add(session, [_hint(agency, "1")], zero)
            inbox.add(session, [_hint(agency, "1")], zero, partner="alfa")
            inbox.add(session, [_hint(agency, "1")], zero, partner="beta")
        inbox.add(session, [_hint(alfa, "7")], zero)
        targets = session.info[inbox.DUE_KEY]
    assert set(targets) == {(agency, None), (agency, "alfa"), (agency, "beta"), (alfa, None)}
    later = NOW + dt.timedelta(seconds=1)
    with store.transaction() as session:
        rows = inbox.due(session, later, systems=[agency, alfa])
        assert sorted((r.system == agency, r.partner or "", r.count) for r in rows) == [
            (False, "", 1),
            (True, "", 2),
            (True, "alfa", 2),
            (True, "beta", 2),
        ]
        agency_job = inbox.take(session, later, systems=[agency], address=False)
        alfa_job = inbox.take(session, later, systems=[alfa], address="alfa")
        assert {(agency, None), (agency, "alfa"), (agency, "beta"), (alfa, None)} <= (
            inbox.targets(session, later)
        )
    assert [(h.hint.system, h.count) for h in agency_job] == [(agency, 2)]
    assert sorted((h.hint.system, h.hint.deal_id) for h in alfa_job) == [(agency, "1"), (alfa, "7")]
    with store.transaction() as session:
        assert inbox.done(session, [*agency_job, *alfa_job]) == 3
        left = inbox.take(session, later, systems=[agency, alfa])
        assert [h.hint.deal_id for h in left] == ["1"]  # beta's route only
        assert inbox.done(session, left) == 1
