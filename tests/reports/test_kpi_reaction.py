"""Partner reaction time ("Медиана дней до 1-й стадии") from the audit the engine really
writes: through sync passes over the in-memory CRMs, no hand-made audit rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlmodel import select

from bridge.kpi.query import load_facts
from bridge.kpi.report import build_report
from bridge.store import audit
from bridge.store.tables import LinkRow
from tests.engine.world import T0, World, make_world

DAY = 86400


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    built = make_world(db_url)
    yield built
    built.close()


def test_the_partners_first_stage_move_is_its_reaction_time(world: World) -> None:
    engine = world.engine()
    first, second, third = (world.agency_deal(n, ("amo",)) for n in (1, 2, 3))
    engine.sync()  # all three handed over at T0
    partner_of = {link.agency_deal_id: link.partner_deal_id or "" for link in _links(world)}
    assert len(partner_of) == 3
    world.clock.advance(2 * DAY)
    world.amo.user_edit(partner_of[first.id], stage_id="102")  # the partner reacts: 2 days
    engine.sync()
    world.clock.advance(DAY)
    world.agency.user_edit(second.id, stage_id="C7:WORK")  # the agency moves: not a reaction
    engine.sync()
    assert world.amo.deals[partner_of[second.id]].stage_id == "102"  # mirrored out
    world.clock.advance(DAY)
    world.amo.user_edit(partner_of[third.id], stage_id="102")  # 4 days after hand-over
    engine.sync()
    with world.store.transaction() as session:
        stored = [r.new_value for r in audit.trail(session, first.id) if r.field == "@stage"]
        facts = {f.agency_deal_id: f for f in load_facts(session)}
    assert stored[-1] == "C7:WORK ↔ 102"  # what the audit really holds: a pair for people
    # The sandbox clock ticks a few milliseconds per call: days to one decimal place.
    assert _days(facts[first.id].first_stage_change, T0) == 2.0
    assert facts[second.id].first_stage_change is None
    assert _days(facts[third.id].first_stage_change, T0) == 4.0
    (amo,) = [
        k for k in build_report(world.store, world.clock.now()).kpis if k.partner_code == "amo"
    ]
    assert amo.median_days_to_first_stage == Decimal("3.0")  # median of 2 and 4 days


def _days(at: dt.datetime | None, start: dt.datetime) -> float | None:
    return None if at is None else round((at - start).total_seconds() / DAY, 1)


def _links(world: World) -> list[LinkRow]:
    with world.store.transaction() as session:
        return list(session.exec(select(LinkRow)))
