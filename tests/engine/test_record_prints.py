"""The record step stores a create's handover with the fingerprints screening read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from bridge.channels.conflicts import Draft, fingerprints_of, screen_new_handovers
from bridge.channels.normalise import Fingerprint, Kind
from bridge.channels.tables import ChannelHandoverRow
from bridge.model import Contact, Deal, DealDraft, LinkState, LinkStatus, Money
from bridge.store.db import Store
from sync.apply import Outcome
from sync.plan.types import CreatePartnerDeal, LinkPlan
from sync.record import Recorder, Recording
from tests.engine.world import World

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
IVAN = Contact("Иван", ("8 912 345-67-89",), ("Ivan@Example.RU",))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
    yield opened
    opened.close()


def _created(deal_id: str) -> Recording:
    key = (deal_id, "alfa")
    draft = DealDraft(deal_id, "Сайт", "1", "NEW", Money(Decimal(1), "RUB"), contact=IVAN)
    state = LinkState(deal_id, "alfa", None, LinkStatus.ACTIVE, {"title": "Сайт"})
    plan = LinkPlan(key, (CreatePartnerDeal(key, draft),), (), state)
    agency = Deal(deal_id, "Сайт", "1", "C1:NEW", None, NOW, NOW)
    return Recording(plan, Outcome(created_id="9" + deal_id), None, (agency, None))


def _handed(store: Store) -> dict[str, set[tuple[str, str]]]:
    with store.transaction() as session:
        rows = session.exec(select(ChannelHandoverRow)).all()
    found: dict[str, set[tuple[str, str]]] = {}
    for row in rows:
        found.setdefault(row.agency_deal_id, set()).add((row.kind, row.value))
    return found


def test_a_screened_create_is_handed_over_with_the_screened_fingerprints(store: Store) -> None:
    screened = frozenset({Fingerprint(Kind.EMAIL, "screened@example.ru")})
    recorder = Recorder(store, "agency", NOW, prints={("1", "alfa"): screened})
    assert recorder.commit_many([_created("1"), _created("2")]) == ["applied", "applied"]
    handed = _handed(store)
    assert handed["1"] == {("email", "screened@example.ru")}
    # a create screening did not see is read by the record step itself
    assert handed["2"] == {("phone", "+79123456789"), ("email", "ivan@example.ru")}


def test_screening_reports_the_fingerprints_the_record_step_would_read(store: Store) -> None:
    with store.transaction() as session:
        result = screen_new_handovers(
            session, [Draft("1", "alfa", IVAN, None)], NOW, dt.timedelta(days=30), hold=False
        )
    assert result.prints == {("1", "alfa"): fingerprints_of(IVAN, None)}


def test_the_engine_records_handovers_without_reading_the_clients_again(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass screens its creates and records their handovers: the record step reuses what
    screening read, so it never normalises a client itself."""
    read: list[object] = []

    def reading(*args: object) -> frozenset[Fingerprint]:
        read.append(args)
        return frozenset()

    monkeypatch.setattr("sync.record.fingerprints_of", reading)
    deals = [sqlite_world.agency_deal(n, ("amo",)) for n in range(1, 6)]
    assert sqlite_world.engine().sync().errors == {}
    assert read == []
    handed = _handed(sqlite_world.store)
    assert set(handed) == {d.id for d in deals}
    assert all(handed.values())
