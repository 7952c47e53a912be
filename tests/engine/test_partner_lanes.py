"""Partners run concurrently, each in its own lane (issue 16 §2), with in-memory CRMs.

A partner whose poll does not return does not hold up another partner's records;
a pass may end without a lane that is still running, and then neither the agency
cursor nor the inbox loses the work that partner has not taken: it is requeued,
the partner is set aside (not failing) while its lane runs, and every deal routed
to it arrives exactly once when it goes on.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from bridge.store import inbox, links
from sync.engine import StillRunning
from sync.lanes import Lanes
from tests.engine.world import World

WAIT = 30.0  # the most the test waits on a condition before it fails


def _linked(world: World, agency_id: str, code: str) -> bool:
    with world.store.transaction() as session:
        rows = links.by_agency_ids(session, [agency_id])
    return any(r.partner_code == code and r.partner_deal_id for r in rows)


def _until(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` came true within WAIT seconds (checked every 10 ms)."""
    pause = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return True
        pause.wait(0.01)
    return condition()


def test_one_partner_records_while_another_partners_poll_is_in_flight(sqlite_world: World) -> None:
    world = sqlite_world
    engine = world.engine(lanes=Lanes(deadline=WAIT * 2), retry_delay=dt.timedelta(0))
    engine.sync()
    amo_deal = world.agency_deal(1, ("amo",))
    b24_deal = world.agency_deal(2, ("b24",))
    world.clock.advance(60)
    seen: list[bool] = []

    def amo_waits_for_b24() -> None:
        # "amo" sorts first: in a pass that walked partners in turn, b24 would never
        # be recorded while amo's poll is in flight, and this wait would run out.
        seen.append(_until(lambda: _linked(world, b24_deal.id, "b24")))

    world.amo.faults.before("list_changed", amo_waits_for_b24, times=1)
    report = engine.sync()
    assert seen == [True]
    assert report.errors == {}
    assert _linked(world, amo_deal.id, "amo") and _linked(world, b24_deal.id, "b24")


def test_a_pass_ends_without_a_late_lane_and_its_partner_loses_nothing(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    engine = world.engine(lanes=Lanes(deadline=WAIT * 2), retry_delay=dt.timedelta(0))
    engine.sync()
    amo_deal = world.agency_deal(1, ("amo",))
    b24_deal = world.agency_deal(2, ("b24",))
    world.clock.advance(60)
    entered, release = threading.Event(), threading.Event()

    def stall() -> None:
        entered.set()
        assert release.wait(WAIT), "the test never let amo's poll go on"

    world.amo.faults.before("list_changed", stall, times=1)
    try:
        report = engine.sync(wait=0)
        assert entered.wait(WAIT)
        assert report.running in (["amo"], ["amo", "b24"])
        assert "amo" not in report.errors  # late, not failing
        # b24 is applied and recorded without waiting for amo, in or after the pass.
        assert _until(lambda: _linked(world, b24_deal.id, "b24"))
        # The agency cursor moved, so amo's share of it went back to the inbox.
        with world.store.transaction() as session:
            due = inbox.due(session, world.clock() + dt.timedelta(hours=1))
        assert amo_deal.id in {h.deal_id for h in due}
        # While its lane runs, amo is set aside, not called and not failing.
        calls = world.amo.total_calls
        world.clock.advance(60)
        aside = engine._set_aside(["amo"], world.clock())
        assert isinstance(aside.get("amo"), StillRunning)
        report = engine.sync(wait=0)
        assert "amo" not in report.errors
        assert world.amo.total_calls == calls
    finally:
        release.set()
    assert _until(lambda: _linked(world, amo_deal.id, "amo"))  # the late lane recorded it
    # Every lane left running (amo's, and b24's of a pass that did not wait) ends.
    assert _until(lambda: not engine._set_aside(["amo", "b24"], world.clock()))
    world.clock.advance(60)
    report = engine.sync()
    assert report.errors == {}
    assert len(world.amo.deals) == 1 and len(world.b24.deals) == 1  # each exactly once
    with world.store.transaction() as session:
        due = inbox.due(session, world.clock() + dt.timedelta(hours=1))
    assert due == []
