"""Bulk statements store what SQLAlchemy's own executemany stores; a relaxed transaction
is relaxed only for itself."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import StatementError

from bridge.channels.conflicts import record_handovers
from bridge.channels.normalise import Fingerprint, Kind
from bridge.channels.tables import ChannelHandoverRow
from bridge.model import LinkState, LinkStatus
from bridge.store import audit, intents, links
from bridge.store.audit import AuditEvent
from bridge.store.bulk import execute_many
from bridge.store.db import Store
from bridge.store.intents import IntentState
from bridge.store.tables import AuditRow, LinkRow, WriteIntentRow

NOW = dt.datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=dt.UTC)
MOSCOW = ZoneInfo("Europe/Moscow")


def _link(deal_id: str, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "agency_deal_id": deal_id,
        "partner_code": "alfa",
        "status": "active",
        "agency_amount": None,
        "agency_updated_at": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return row | values


def test_bulk_rows_load_back_as_rows_saved_one_by_one(store: Store) -> None:
    """Times (in any zone), exact amounts (``1.0`` is not ``1.00``) and NULLs come back
    from a bulk insert exactly as from the ORM."""
    varied = [
        {"agency_amount": Decimal("1.0"), "agency_updated_at": NOW},
        {"agency_amount": Decimal("1.00"), "agency_updated_at": NOW.astimezone(MOSCOW)},
        {"agency_amount": Decimal("-0.005"), "agency_updated_at": NOW + dt.timedelta(days=1)},
        {},
    ]
    table = LinkRow.__table__  # type: ignore[attr-defined]
    with store.transaction() as session:
        rows = [_link(f"b{i}", **v) for i, v in enumerate(varied)]
        execute_many(session.connection(), table.insert(), rows)
        for i, values in enumerate(varied):
            session.add(LinkRow(**_link(f"o{i}", **values)))  # type: ignore[arg-type]
    with store.transaction() as session:
        found = {r.agency_deal_id: r for r in session.execute(select(LinkRow)).scalars()}
    for i in range(len(varied)):
        bulk, orm = found[f"b{i}"], found[f"o{i}"]
        for name in ("agency_amount", "agency_updated_at", "created_at", "updated_at"):
            assert getattr(bulk, name) == getattr(orm, name), name
        assert str(bulk.agency_amount) == str(orm.agency_amount)
    assert found["b1"].agency_updated_at == NOW
    assert found["b1"].agency_updated_at is not None
    assert found["b1"].agency_updated_at.tzinfo == dt.UTC
    assert str(found["b0"].agency_amount) == "1.0"
    assert str(found["b1"].agency_amount) == "1.00"


def test_a_naive_time_is_refused_in_bulk_too(store: Store) -> None:
    table = LinkRow.__table__  # type: ignore[attr-defined]
    naive = NOW.replace(tzinfo=None)
    refused = pytest.raises((ValueError, StatementError), match="timezone-aware")
    with refused, store.transaction() as session:
        execute_many(session.connection(), table.insert(), [_link("1", created_at=naive)])


def test_bulk_audit_and_intents_match_the_one_by_one_calls(store: Store) -> None:
    """``audit.add_many`` and ``intents.resolve_many`` (a statement with a constant of its
    own, ``kind = 'create'``) leave what ``audit.add`` and ``intents.resolve`` leave."""
    events = [
        AuditEvent(NOW, "10", "alfa", "create", side="partner", new_value="77"),
        AuditEvent(NOW, "10", "alfa", "synced", field="@stage", old_value=None, new_value="a ↔ b"),
    ]
    with store.transaction() as session:
        intents.record(session, "alfa", [("10", "10"), ("11", "11"), ("12", "12")], NOW)
    with store.transaction(durable=False) as session:
        audit.add_many(session, events)
        ends = [("alfa", "10", IntentState.DONE, "77"), ("alfa", "11", IntentState.FAILED, None)]
        intents.resolve_many(session, ends, NOW)
    with store.transaction() as session:
        assert audit.events(session, "10") == events
        rows = {r.agency_deal_id: r for r in session.execute(select(WriteIntentRow)).scalars()}
    assert (rows["10"].state, rows["10"].partner_deal_id, rows["10"].resolved_at) == (
        "done",
        "77",
        NOW,
    )
    assert (rows["11"].state, rows["11"].partner_deal_id) == ("failed", None)
    assert (rows["12"].state, rows["12"].resolved_at) == ("pending", None)
    with store.transaction() as session:
        assert audit.count(session) == len(session.execute(select(AuditRow)).all()) == 2


def _level(store: Store, durable: bool) -> str:
    sqlite = store.engine.dialect.name == "sqlite"
    query = "PRAGMA synchronous" if sqlite else "SHOW synchronous_commit"
    with store.transaction(durable=durable) as session:
        return str(session.execute(text(query)).scalar())


def test_only_a_relaxed_transaction_skips_waiting_for_the_disk(store: Store) -> None:
    """Durable, relaxed, durable again (on the same pooled connection): the level is set
    per transaction, so a relaxed one never leaves its connection relaxed."""
    sqlite = store.engine.dialect.name == "sqlite"
    full, relaxed = ("2", "1") if sqlite else ("on", "off")
    assert [_level(store, d) for d in (True, False, True, False, True)] == [
        full,
        relaxed,
        full,
        relaxed,
        full,
    ]


def test_more_rows_than_one_statement_holds_are_all_written(store: Store) -> None:
    """3,000 audit rows and 2,000 link inserts and updates: more values than one SQLite
    statement binds (999 here), so each is split, and no row is lost at a seam."""
    events = [
        AuditEvent(NOW, str(i), "alfa", "synced", field="f", new_value=str(i)) for i in range(3000)
    ]
    states = [LinkState(str(i), "alfa", str(i), LinkStatus.ACTIVE) for i in range(2000)]
    with store.transaction(durable=False) as session:
        audit.add_many(session, events)
        links.save_states(session, [(s, (None, None), True) for s in states], NOW)
    later = NOW + dt.timedelta(hours=1)
    parked = [
        dataclasses.replace(s, status=LinkStatus.PARKED, park_reason=s.agency_deal_id)
        for s in states
    ]
    with store.transaction(durable=False) as session:
        links.save_states(session, [(s, (None, None), False) for s in parked], later)
    with store.transaction() as session:
        assert audit.count(session) == 3000
        assert audit.events(session, "2999") == [events[-1]]
        stored = {
            s.state.agency_deal_id: s
            for s in links.stored(session, [s.agency_deal_id for s in states])
        }
    assert len(stored) == 2000
    assert all(
        s.state == p and s.parked_at == later
        for s, p in ((stored[p.agency_deal_id], p) for p in parked)
    )


def test_a_sqlite_statement_binds_few_enough_values_to_stay_small(store: Store) -> None:
    """Each distinct statement stays prepared in its connection's cache: one of tens of
    thousands of parameters would hold megabytes there, per connection."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the multi-row statements are SQLite's")
    bound: list[int] = []

    def count(*args: object) -> None:
        parameters = args[3]
        bound.append(len(parameters) if isinstance(parameters, tuple | list) else 0)

    event.listen(store.engine, "before_cursor_execute", count)
    events = [
        AuditEvent(NOW, str(i), "alfa", "synced", field="f", new_value=str(i)) for i in range(3000)
    ]
    try:
        with store.transaction(durable=False) as session:
            audit.add_many(session, events)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert max(bound) <= 999
    assert len([n for n in bound if n]) < len(events) / 50  # still many rows per statement
    with store.transaction() as session:
        assert audit.count(session) == 3000


def test_handovers_are_recorded_once_per_deal_partner_and_fingerprint(store: Store) -> None:
    phone, email = Fingerprint(Kind.PHONE, "+79123456789"), Fingerprint(Kind.EMAIL, "a@b.ru")
    inn = Fingerprint(Kind.INN, "7707083893")
    many = [Fingerprint(Kind.EMAIL, f"c{i}@b.ru") for i in range(600)]  # over one query's 500
    with store.transaction() as session:
        assert record_handovers(session, [("10", "alfa", {phone, email, *many})], NOW) == 602
    with store.transaction() as session:
        added = record_handovers(
            session,
            [
                ("10", "alfa", {phone, email, inn, *many}),
                ("10", "beta", {phone}),
                ("11", "alfa", {phone}),
            ],
            NOW,
        )
    assert added == 3  # inn for 10/alfa, and the phone for beta and for deal 11
    with store.transaction() as session:
        stored = session.execute(select(ChannelHandoverRow)).all()
    assert len(stored) == 605
