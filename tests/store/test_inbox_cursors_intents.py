from __future__ import annotations

import datetime as dt

import pytest

from bridge.model import Hint, HintKind
from bridge.store import audit, cursors, health, inbox, intents
from bridge.store.db import Store
from bridge.store.intents import IntentState
from bridge.store.tables import AuditRow

T0 = dt.datetime(2026, 11, 24, 21, 0, tzinfo=dt.UTC)
DEBOUNCE = dt.timedelta(seconds=2)


def _hint(deal: str, seconds: float, kind: HintKind = HintKind.UPDATED) -> Hint:
    return Hint("bitrix24:agency", deal, kind, T0 + dt.timedelta(seconds=seconds))


def test_hints_are_deduplicated_per_deal_and_debounced(store: Store) -> None:
    with store.transaction() as session:
        inbox.add(session, [_hint("1", 0), _hint("1", 1), _hint("2", 0), _hint("1", 1.5)], DEBOUNCE)
    with store.transaction() as session:
        assert [h.deal_id for h in inbox.due(session, T0 + dt.timedelta(seconds=2))] == ["2"]
        rows = inbox.due(session, T0 + dt.timedelta(seconds=4))
    one = next(r for r in rows if r.deal_id == "1")
    assert one.count == 3
    assert one.first_received == T0
    assert one.last_received == T0 + dt.timedelta(seconds=1.5)


def test_a_deal_hinted_without_pause_is_due_after_the_max_wait(store: Store) -> None:
    with store.transaction() as session:
        inbox.add(session, [_hint("7", s) for s in range(15)], DEBOUNCE)
    with store.transaction() as session:
        # still inside its debounce (last hint at 14 s), but hinted since T0
        assert inbox.due(session, T0 + dt.timedelta(seconds=9.5)) == []
        (row,) = inbox.due(session, T0 + dt.timedelta(seconds=14.5))
        assert row.deal_id == "7" and row.count == 15
        assert inbox.due(session, T0 + dt.timedelta(seconds=14.5), max_wait=DEBOUNCE * 100) == []


def test_a_hint_arriving_while_handled_survives_done(store: Store) -> None:
    with store.transaction() as session:
        inbox.add(session, [_hint("1", 0), _hint("2", 0)], DEBOUNCE)
    with store.transaction() as session:
        taken = inbox.due(session, T0 + dt.timedelta(seconds=5))
    with store.transaction() as session:
        inbox.add(session, [_hint("1", 3)], DEBOUNCE)
    with store.transaction() as session:
        assert inbox.done(session, taken) == 1
        (left,) = inbox.due(session, T0 + dt.timedelta(seconds=9))
    assert left.deal_id == "1"


def test_cursor_advances_with_version_and_never_backwards(store: Store) -> None:
    system = "amocrm:partner"
    with store.transaction() as session:
        first = cursors.load(session, system)
        assert first.value is None
        second = cursors.save(session, first, T0, ["5", "3"], T0)
    assert second.boundary_ids == ("3", "5")
    with store.transaction() as session:
        loaded = cursors.load(session, system)
    assert loaded == second
    with store.transaction() as session, pytest.raises(ValueError, match="move back"):
        cursors.save(session, loaded, T0 - dt.timedelta(seconds=1), [], T0)
    with store.transaction() as session:
        cursors.save(session, loaded, T0 + dt.timedelta(minutes=1), ["9"], T0)
    with store.transaction() as session, pytest.raises(cursors.CursorConflict):
        cursors.save(session, loaded, T0 + dt.timedelta(minutes=2), [], T0)


def test_cursors_of_many_accounts_read_at_once(store: Store) -> None:
    with store.transaction() as session:
        moved = cursors.save(session, cursors.load(session, "amocrm:a"), T0, ["7"], T0)
    with store.transaction() as session:
        found = cursors.load_many(session, ["amocrm:a", "bitrix24:b", "amocrm:a"])
    assert found == {"amocrm:a": moved, "bitrix24:b": cursors.Cursor("bitrix24:b", None)}
    # A cursor read in a batch advances like one read alone, and conflicts like one.
    with store.transaction() as session:
        cursors.save(session, found["amocrm:a"], T0 + dt.timedelta(minutes=1), [], T0)
    with store.transaction() as session, pytest.raises(cursors.CursorConflict):
        cursors.save(session, found["amocrm:a"], T0 + dt.timedelta(minutes=2), [], T0)


def test_health_of_many_partners_recorded_at_once(store: Store) -> None:
    with store.transaction() as session:
        health.failure(session, "a", "Unavailable", "down", T0)
        health.failure(session, "a", "Unavailable", "down", T0)
    later = T0 + dt.timedelta(minutes=1)
    with store.transaction() as session:
        health.succeeded(session, ["a", "b"], later)
    with store.transaction() as session:
        rows = health.partners(session)
    assert {c: (r.last_success_at, r.consecutive_failures) for c, r in rows.items()} == {
        "a": (later, 0),
        "b": (later, 0),
    }
    assert rows["a"].last_error == "down"  # the last error is kept for `bridge status`


def test_intents_survive_until_resolved(store: Store) -> None:
    with store.transaction() as session:
        intents.record(session, "atwinta", [("10", "10"), ("11", "11")], T0)
    with store.transaction() as session:
        intents.record(session, "atwinta", [("10", "10")], T0)
        intents.resolve(session, "atwinta", "11", IntentState.DONE, T0, partner_deal_id="77")
    with store.transaction() as session:
        (row,) = intents.pending(session, "atwinta")
    assert (row.agency_deal_id, row.attempts) == ("10", 2)


def test_begin_counts_attempts_in_bulk_as_record_does(store: Store) -> None:
    with store.transaction() as session:
        assert intents.begin(session, "atwinta", [("10", "s10"), ("11", "s11")], T0) == set()
    with store.transaction() as session:
        intents.resolve(session, "atwinta", "11", IntentState.FAILED, T0)
        later = T0 + dt.timedelta(minutes=1)
        retried = intents.begin(session, "atwinta", [("11", "new"), ("12", "s12")], later)
        assert intents.begin(session, "other", [("11", "s11")], later) == set()
    assert retried == {"11"}
    with store.transaction() as session:
        rows = {r.agency_deal_id: r for r in intents.pending(session, "atwinta")}
    assert {a: (r.stamp, r.attempts, r.created_at) for a, r in rows.items()} == {
        "10": ("s10", 1, T0),
        "11": ("s11", 2, T0),  # the stamp of its first attempt is kept
        "12": ("s12", 1, later),
    }


def test_audit_is_append_only_and_ordered(store: Store) -> None:
    entry = AuditRow(
        at=T0, agency_deal_id="10", partner_code="atwinta", action="update", field="amount"
    )
    with store.transaction() as session:
        audit.append(session, [entry])
    with store.transaction() as session, pytest.raises(ValueError, match="append-only"):
        audit.append(session, [entry])
    with store.transaction() as session:
        assert [r.field for r in audit.trail(session, "10")] == ["amount"]
