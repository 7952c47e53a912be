"""Lanes in the engine with in-memory CRMs: what a call abandoned at its deadline leaves.

A create that misses its partner's deadline may still be carried out by the CRM
after the pass gave up on it. The pass records nothing of it; the next pass finds
the deal by its stamp and links it instead of creating it again.
"""

from __future__ import annotations

import datetime as dt
import threading

from bridge.store import links
from sync.lanes import Lanes
from tests.engine.world import World

WAIT = 30.0  # the most the test waits on a condition before it fails


def test_a_create_abandoned_at_its_deadline_is_linked_by_stamp_not_made_twice(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    engine = world.engine(lanes=Lanes(deadline=0.2, probe=WAIT), retry_delay=dt.timedelta(0))
    deal = world.agency_deal(1, ("amo",))
    other = world.agency_deal(2, ("b24",))
    entered, release = threading.Event(), threading.Event()

    def stall() -> None:
        entered.set()
        assert release.wait(WAIT), "the test never let the create go on"

    world.amo.faults.before("create_deals", stall, times=1)
    try:
        report = engine.sync()
    finally:
        release.set()
    assert set(report.errors) == {"amo"}
    assert "did not answer within 0.2 s" in report.errors["amo"]
    assert entered.is_set()
    assert len(world.b24.deals) == 1  # the other partner went on in the same pass
    with world.store.transaction() as session:
        rows = {r.agency_deal_id: r for r in links.by_agency_ids(session, [deal.id, other.id])}
    assert rows[other.id].partner_deal_id is not None
    assert deal.id not in rows or rows[deal.id].partner_deal_id is None  # nothing recorded

    assert engine.lanes.wait_idle("amo", WAIT)
    assert len(world.amo.deals) == 1  # the abandoned call did create it after all
    (made,) = world.amo.deals.values()
    world.clock.advance(60)
    report = engine.sync()
    assert report.errors == {}
    assert list(world.amo.deals) == [made.id]  # linked by its stamp, not created again
    with world.store.transaction() as session:
        (row,) = [r for r in links.by_agency_ids(session, [deal.id]) if r.partner_code == "amo"]
    assert row.partner_deal_id == made.id
