"""A large window is handled chunk by chunk: fetched, planned, applied and recorded a
chunk at a time, the cursors moved only after the last one — so a pass never holds the
whole window, and a crash between chunks neither loses nor duplicates a deal."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import pytest

from bridge.crm import TransientError, WriteResult
from bridge.model import Deal, DealDraft, Hint, HintKind
from bridge.store import cursors, inbox, links
from tests.engine.world import World

CHUNK = 5


class Crashed(BaseException):
    """Stands in for the process dying at a crash point."""


def _crash_at(point: str, nth: int) -> Callable[[str], None]:
    seen = [0]

    def crash(name: str) -> None:
        if name == point:
            seen[0] += 1
            if seen[0] == nth:
                raise Crashed(name)

    return crash


def _seed(world: World, n: int) -> list[Deal]:
    world.agency.page_size = CHUNK  # one listing page per chunk
    return [world.agency_deal(k, ("amo",) if k % 3 else ("amo", "b24")) for k in range(1, n + 1)]


def _batched(world: World, monkeypatch: pytest.MonkeyPatch, size: int) -> list[int]:
    """amo sends creates ``size`` at a time (as amoCRM's 50 per request); the sizes of
    the create calls the engine makes, in order."""
    calls: list[int] = []
    create = world.amo.create_deals

    def whole(drafts: list[DealDraft]) -> int:
        return len(drafts) - len(drafts) % size

    def counted(drafts: list[DealDraft]) -> list[WriteResult]:
        calls.append(len(drafts))
        return create(drafts)

    monkeypatch.setattr(world.amo, "whole_creates", whole, raising=False)
    monkeypatch.setattr(world.amo, "create_deals", counted)
    return calls


def _mirrored_once(world: World, deals: list[Deal]) -> None:
    amo = sorted(d.stamp or "" for d in world.amo.deals.values())
    b24 = sorted(d.stamp or "" for d in world.b24.deals.values())
    assert amo == sorted(d.id for d in deals)
    assert b24 == sorted(d.id for n, d in enumerate(deals, 1) if n % 3 == 0)
    with world.store.transaction() as session:
        rows = links.by_agency_ids(session, [d.id for d in deals])
    assert len(rows) == len(amo) + len(b24)
    assert {r.partner_deal_id for r in rows} == set(world.amo.deals) | set(world.b24.deals)


def _agency_cursor(world: World) -> object:
    with world.store.transaction() as session:
        return cursors.load(session, world.agency.system).value


def test_a_pass_records_each_chunk_before_it_creates_the_next(world: World) -> None:
    deals = _seed(world, 23)
    sizes: list[int] = []

    def spy() -> None:
        # every create call of a chunk finds the chunks before it recorded
        with world.store.transaction() as session:
            recorded = len(links.for_partner(session, "amo"))
        assert recorded == len(world.amo.deals)
        sizes.append(0)

    world.amo.faults.before("create_deals", spy)
    report = world.engine(chunk=CHUNK).sync()

    assert report.errors == {}
    assert report.chunks == math.ceil(23 / CHUNK)
    assert len(sizes) == report.chunks  # one create call per chunk
    assert report.plans == []  # a pass that writes keeps counts only
    assert report.written == {"amo": 23, "b24": 7}
    assert sum(report.verdicts.values()) == 30
    _mirrored_once(world, deals)
    assert _agency_cursor(world) is not None


def test_a_partners_creates_go_in_whole_requests_from_chunk_to_chunk(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    deals = _seed(world, 23)
    calls = _batched(world, monkeypatch, 4)
    report = world.engine(chunk=CHUNK).sync()

    assert report.errors == {}
    assert report.chunks == math.ceil(23 / CHUNK)
    # The part-filled request at a chunk's end waits for the next chunk: whole requests
    # until the last chunk, so as few requests as one window of 23 would take.
    assert all(n % 4 == 0 for n in calls[:-1]), calls
    assert sum(calls) == 23
    assert sum(math.ceil(n / 4) for n in calls) == math.ceil(23 / 4)
    _mirrored_once(world, deals)
    assert _agency_cursor(world) is not None


def test_creates_carried_to_a_chunk_without_the_partner_are_still_sent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.agency.page_size = CHUNK
    # amo's 3 deals are all in the first chunk; the chunks after it concern b24 alone
    deals = [world.agency_deal(k, ("amo", "b24") if k <= 3 else ("b24",)) for k in range(1, 13)]
    calls = _batched(world, monkeypatch, 4)
    report = world.engine(chunk=CHUNK).sync()

    assert report.errors == {}
    assert calls == [3]  # carried to the last chunk, then sent
    assert sorted(d.stamp or "" for d in world.amo.deals.values()) == sorted(
        d.id for d in deals[:3]
    )
    assert len(world.b24.deals) == 12


def test_a_small_window_is_one_chunk(world: World) -> None:
    deals = _seed(world, 4)
    report = world.engine(chunk=CHUNK).sync()
    assert report.chunks == 1
    _mirrored_once(world, deals)


@pytest.mark.parametrize("batch", [None, 4])
@pytest.mark.parametrize("point", ["after_chunk", "after_remote_create", "before_local_commit"])
def test_a_crash_mid_window_then_restart_loses_and_duplicates_nothing(
    sqlite_world: World, point: str, batch: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = sqlite_world
    deals = _seed(world, 23)
    if batch is not None:  # with creates carried from chunk to chunk
        _batched(world, monkeypatch, batch)
    with pytest.raises(Crashed):
        world.engine(chunk=CHUNK, crash=_crash_at(point, 3)).sync()
    assert _agency_cursor(world) is None  # the cursor moves only after the last chunk
    assert 0 < len(world.amo.deals) < len(deals)
    world.engine(chunk=CHUNK).sync()  # the restarted daemon lists the window again
    world.engine(chunk=CHUNK).sync()
    _mirrored_once(world, deals)


def test_a_partner_failing_mid_window_gets_its_later_chunks_back_later(world: World) -> None:
    deals = _seed(world, 23)
    calls = [0]

    def second_create_fails() -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise TransientError("amo hiccup", system=world.amo.system)

    world.amo.faults.before("create_deals", second_create_fails, times=2)
    engine = world.engine(chunk=CHUNK, retry_delay=dt.timedelta(0))
    report = engine.sync()

    assert "amo" in report.errors
    assert len(world.amo.deals) == CHUNK  # the first chunk only; the pass went on without it
    assert len(world.b24.deals) == 7  # the other partner took every chunk
    with world.store.transaction() as session:
        queued = {r.deal_id for r in inbox.due(session, world.clock())}
    assert {d.id for d in deals[CHUNK:]} <= queued  # amo's later deals wait in the inbox
    engine.sync()
    _mirrored_once(world, deals)


def test_a_partner_failing_with_carried_creates_gets_them_back_later(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    deals = _seed(world, 23)
    calls = _batched(world, monkeypatch, 4)
    create = world.amo.create_deals

    def second_fails(drafts: list[DealDraft]) -> list[WriteResult]:
        if len(calls) == 1:
            calls.append(len(drafts))
            raise TransientError("amo hiccup", system=world.amo.system)
        return create(drafts)

    monkeypatch.setattr(world.amo, "create_deals", second_fails)
    engine = world.engine(chunk=CHUNK, retry_delay=dt.timedelta(0))
    report = engine.sync()

    assert "amo" in report.errors
    # The first chunk sent 4 and carried 1; the second's call (that 1 and 3 of its own,
    # carrying 2) failed: every amo deal after the first 4 waits in the inbox.
    assert calls == [4, 4]
    assert len(world.amo.deals) == 4
    with world.store.transaction() as session:
        queued = {r.deal_id for r in inbox.due(session, world.clock())}
    assert {d.id for d in deals[4:]} <= queued
    engine.sync()
    _mirrored_once(world, deals)


def test_a_dry_run_still_lists_every_plan(world: World) -> None:
    _seed(world, 12)
    report = world.engine(chunk=CHUNK).sync(dry_run=True)
    assert len(report.plans) == 16 and world.writes() == 0


def test_a_bad_chunk_size_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.sources.poll import CHUNK_ENV, chunk_from_env

    monkeypatch.setenv(CHUNK_ENV, "0")
    with pytest.raises(ValueError, match="BRIDGE_PASS_CHUNK='0' is not a whole number of deals"):
        chunk_from_env()
    monkeypatch.setenv(CHUNK_ENV, "500")
    assert chunk_from_env() == 500


def _routed(world: World, chunk: int) -> dict[str, set[str]]:
    """What the scale-out agency job routes, read ``chunk`` deals at a time: per partner,
    the agency deals addressed to it (the hints it left in the inbox)."""
    world.engine(chunk=chunk).fan_out()
    later = world.clock() + dt.timedelta(days=1)
    out: dict[str, set[str]] = {}
    with world.store.transaction() as session:
        for row in inbox.due(session, later, systems=[world.agency.system], limit=10_000):
            assert row.partner is not None, "an unaddressed agency hint was left"
            out.setdefault(row.partner, set()).add(row.deal_id)
    return out


def test_the_agency_job_routes_a_large_window_chunk_by_chunk(world: World) -> None:
    deals = _seed(world, 23)
    hinted = world.agency_deal(99, ("b24",))  # hinted by a webhook, and listed too
    hook = Hint(world.agency.system, hinted.id, HintKind.UPDATED, world.clock(), "hook")
    with world.store.transaction() as session:
        inbox.add(session, [hook], dt.timedelta(0))
    world.agency.calls.clear()
    assert _routed(world, CHUNK) == {
        "amo": {d.id for d in deals},
        "b24": {d.id for n, d in enumerate(deals, 1) if n % 3 == 0} | {hinted.id},
    }
    assert world.agency.calls["fetch_deals"] == 0  # the hinted deal was in a chunk
    assert _agency_cursor(world) is not None  # moved once the routes were recorded
