"""The checker itself: each invariant is reported violated when its rule is broken."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bridge.ledger.tables import LedgerEntryRow
from bridge.model import Deal, Money
from bridge.store.tables import AuditRow, CursorRow
from tests.engine.world import World, make_world
from tests.reliability.invariants import NAMES, Crms, InvariantReport, check_invariants


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[World]:
    world = make_world(f"sqlite:///{tmp_path / 'bridge.db'}")
    for n in range(1, 4):
        world.agency_deal(n, ("amo", "b24"))
    world.engine().sync()
    won = next(iter(world.agency.deals))
    world.agency.user_edit(won, stage_id="C7:WON")
    world.clock.advance(1)
    world.engine().sync()
    yield world
    world.close()


def _check(
    world: World,
    *,
    quiescent: bool = True,
    secrets: Iterable[str] = (),
    texts: Iterable[str] = (),
) -> InvariantReport:
    crms = Crms(world.agency, {"amo": world.amo, "b24": world.b24})
    return check_invariants(
        crms,
        world.store,
        world.mapping,
        scenario="checker",
        record=False,
        quiescent=quiescent,
        secrets=secrets,
        texts=texts,
    )


def _violated(report: InvariantReport) -> set[str]:
    return {n for n, problems in report.violations.items() if problems}


def test_a_synced_world_holds_everything(synced: World) -> None:
    report = _check(synced, secrets=["s3cret"], texts=["nothing here"])
    assert report.ok, report.render()
    assert report.checked["ledger entries"] >= 1


def test_an_unmirrored_edit_is_a_lost_change(synced: World) -> None:
    deal_id = next(iter(synced.agency.deals))
    synced.agency.user_edit(deal_id, amount=Money(Decimal("1.00"), "RUB"))
    assert _violated(_check(synced)) == {NAMES[0]}
    assert _violated(_check(synced, quiescent=False)) == set()


def test_a_second_stamped_partner_deal_is_a_duplicate(synced: World) -> None:
    first = next(iter(synced.amo.deals.values()))
    synced.amo.seed(**{f.name: getattr(first, f.name) for f in _copied(first)})
    assert NAMES[1] in _violated(_check(synced))


def _copied(deal: Deal) -> list[dataclasses.Field[Any]]:
    skip = {"id", "created_at", "updated_at"}
    return [f for f in dataclasses.fields(deal) if f.name not in skip]


def test_a_missing_or_extra_ledger_entry_is_caught(synced: World) -> None:
    with synced.store.transaction() as session:
        row = session.exec(select(LedgerEntryRow)).first()
        assert row is not None
        session.delete(row)
    assert _violated(_check(synced)) == {NAMES[2]}


def test_a_conflict_won_by_the_wrong_side_is_a_silent_overwrite(synced: World) -> None:
    now = synced.clock()
    with synced.store.transaction() as session:
        session.add(
            AuditRow(
                at=now,
                agency_deal_id="1",
                partner_code="amo",
                action="conflict",
                field="@amount",
                winner="agency",
                old_value="1",
                new_value="2",
            )
        )
    assert _violated(_check(synced)) == {NAMES[3]}


def test_a_cursor_past_an_unapplied_change_is_caught(synced: World) -> None:
    deal_id = next(iter(synced.agency.deals))
    synced.agency.user_edit(deal_id, amount=Money(Decimal("7.00"), "RUB"))
    with synced.store.transaction() as session:
        for row in session.exec(select(CursorRow)):
            row.value = synced.clock() + dt.timedelta(seconds=1)
            session.add(row)
    assert NAMES[4] in _violated(_check(synced, quiescent=False))


def test_a_secret_in_any_text_is_a_leak(synced: World) -> None:
    report = _check(synced, secrets=["tok-123"], texts=["GET /rest/1/tok-123/crm.deal.list"])
    assert _violated(report) == {NAMES[5]}
