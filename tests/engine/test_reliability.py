from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest

from bridge.crm import AuthError, CrmError, OutcomeUnknown, TransientError
from bridge.model import LinkStatus, Money
from bridge.store import audit, health, inbox, intents, links
from bridge.store.intents import IntentState
from tests.engine.world import World, with_broken_partner_stage


class Crashed(BaseException):
    """Stands in for the process dying at a crash point."""


def _crash_at(point: str) -> Callable[[str], None]:
    def crash(name: str) -> None:
        if name == point:
            raise Crashed(name)

    return crash


@pytest.mark.parametrize("point", ["after_intent", "after_remote_create", "before_local_commit"])
def test_crash_around_create_then_restart_leaves_one_partner_deal(
    sqlite_world: World, point: str
) -> None:
    world = sqlite_world
    deals = [world.agency_deal(n, ("amo",)) for n in range(1, 8)]
    with pytest.raises(Crashed):
        world.engine(crash=_crash_at(point)).sync()
    world.engine().sync()  # the restarted daemon
    world.engine().sync()
    stamps = sorted(d.stamp or "" for d in world.amo.deals.values())
    assert stamps == sorted(d.id for d in deals)
    with world.store.transaction() as session:
        assert intents.pending(session, "amo") == []
        rows = links.for_partner(session, "amo")
    assert {r.partner_deal_id for r in rows} == set(world.amo.deals)


def test_lost_create_response_is_resolved_by_stamp(world: World) -> None:
    deals = [world.agency_deal(n, ("b24",)) for n in range(1, 4)]
    world.b24.faults.lose_response("create_deals", times=None)
    engine = world.engine()
    engine.sync()
    world.b24.faults.clear()
    engine.sync()
    assert sorted(d.stamp or "" for d in world.b24.deals.values()) == sorted(d.id for d in deals)
    assert world.b24.calls["find_by_stamp"] >= 1
    with world.store.transaction() as session:
        pending = list(intents.pending(session, "b24"))
    assert pending == []


def test_conflicting_amount_edit_resolves_by_owner_and_is_audited(world: World) -> None:
    deal = world.agency_deal(1, ("amo",))
    engine = world.engine()
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    world.agency.user_edit(deal.id, amount=Money(Decimal("111.00"), "RUB"))
    world.amo.user_edit(partner_deal.id, amount=Money(Decimal("222.00"), "RUB"))
    engine.sync()
    assert world.agency.deals[deal.id].amount == Money(Decimal("222.00"), "RUB")
    assert world.amo.deals[partner_deal.id].amount == Money(Decimal("222.00"), "RUB")
    with world.store.transaction() as session:
        trail = audit.trail(session, deal.id)
    (conflict,) = [r for r in trail if r.action == "conflict"]
    assert conflict.winner == "partner"
    assert conflict.loser_value is not None and "111" in conflict.loser_value


def test_renamed_partner_stage_parks_only_its_deals_until_fixed(world: World) -> None:
    one, two = world.agency_deal(1, ("amo",)), world.agency_deal(2, ("amo",))
    engine = world.engine()
    engine.sync()
    ids = {d.stamp: d.id for d in world.amo.deals.values()}
    good_mapping = world.mapping
    engine.update_mapping(with_broken_partner_stage(good_mapping, "amo", "102"))
    world.amo.user_edit(ids[one.id], stage_id="102")  # into the renamed stage
    world.amo.user_edit(ids[two.id], stage_id="142")  # won: unaffected
    engine.sync()
    with world.store.transaction() as session:
        parked = links.parked(session)
    assert [r.agency_deal_id for r in parked] == [one.id]
    assert "renamed" in (parked[0].park_reason or "")
    assert world.agency.deals[two.id].stage_id == "C7:WON"
    assert world.agency.deals[one.id].stage_id == "C7:NEW"
    engine.update_mapping(good_mapping)
    engine.sync()
    with world.store.transaction() as session:
        assert links.parked(session) == []
    assert world.agency.deals[one.id].stage_id == "C7:WORK"


def test_parked_deal_retried_by_hand(world: World) -> None:
    deal = world.agency_deal(1, ("amo",))
    engine = world.engine()
    engine.update_mapping(with_broken_partner_stage(world.mapping, "amo", "102"))
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    world.amo.user_edit(partner_deal.id, stage_id="102")
    world.clock.advance(1)  # the edit's second is over: the next listings skip it
    engine.sync()
    engine.update_mapping(world.mapping)
    engine.retry_parked = False  # only the hand-made retry may un-park it
    engine.sync()
    with world.store.transaction() as session:
        (row,) = links.parked(session)
    assert engine.retry([row.id or 0]) == 1
    world.clock.advance(1)
    engine.sync()
    assert world.agency.deals[deal.id].stage_id == "C7:WORK"


@pytest.mark.parametrize("error", [TransientError("down"), AuthError("token revoked")])
def test_one_partner_failing_never_stalls_the_others(world: World, error: CrmError) -> None:
    deals = [world.agency_deal(n, ("amo", "b24")) for n in range(1, 6)]
    world.amo.faults.fail("list_changed", error, times=None)
    engine = world.engine()
    report = engine.sync()
    assert "amo" in report.errors
    assert len(world.b24.deals) == 5 and world.amo.deals == {}
    with world.store.transaction() as session:
        rows = health.all_rows(session)
    assert rows["amo"].consecutive_failures == 1 and rows["b24"].consecutive_failures == 0
    world.amo.faults.clear()
    world.clock.advance(60)  # past the retry debounce
    engine.sync()
    assert sorted(d.stamp or "" for d in world.amo.deals.values()) == sorted(d.id for d in deals)
    assert len(world.b24.deals) == 5


def test_partner_write_failure_requeues_the_deal(world: World) -> None:
    deal = world.agency_deal(1, ("amo",))
    world.amo.faults.fail("create_deals", OutcomeUnknown("timeout"), times=None)
    engine = world.engine()
    engine.sync()
    world.amo.faults.clear()
    world.clock.advance(60)
    engine.sync()
    assert [d.stamp for d in world.amo.deals.values()] == [deal.id]


def test_edits_while_paging_are_never_missed(world: World) -> None:
    deals = [world.agency_deal(n, ("b24",)) for n in range(1, 121)]  # three agency pages
    engine = world.engine()

    def edit_first_page(page: int) -> None:
        if page == 2:
            world.agency.user_edit(deals[0].id, title="Переименована во время листинга")

    world.agency.between_pages = edit_first_page
    engine.sync()
    world.agency.between_pages = None
    engine.sync()
    (mirrored,) = [d for d in world.b24.deals.values() if d.stamp == deals[0].id]
    assert mirrored.title == "Переименована во время листинга"
    assert len(world.b24.deals) == 120


def test_reconcile_detects_a_deleted_partner_deal(world: World) -> None:
    from sync.sources.reconcile import reconcile

    deal = world.agency_deal(1, ("amo",))
    keep = world.agency_deal(2, ("amo",))
    engine = world.engine()
    engine.sync()
    gone = next(d.id for d in world.amo.deals.values() if d.stamp == deal.id)
    world.amo.user_delete(gone)
    engine.sync()  # polling cannot see a deletion
    report = reconcile(
        engine.store,
        engine.mapping,
        engine.agency,
        {c: engine.partners[c] for c in engine.reachable()},
        engine.clock(),
        then=engine.sync,
    )
    assert report.missing == {"amo": [gone]}
    with world.store.transaction() as session:
        rows = {r.agency_deal_id: r for r in links.for_partner(session, "amo")}
    assert rows[deal.id].status == LinkStatus.ORPHANED.value
    assert rows[keep.id].status == LinkStatus.ACTIVE.value
    (note,) = world.agency.notes[deal.id]
    assert gone in note.text


def test_dry_run_plans_but_writes_nothing(world: World) -> None:
    world.agency_deal(1, ("amo",))
    report = world.engine().sync(dry_run=True)
    assert len(report.plans) == 1 and world.writes() == 0
    with world.store.transaction() as session:
        assert links.for_partner(session, "amo") == []


def test_intent_is_recorded_before_the_create_call(sqlite_world: World) -> None:
    world = sqlite_world
    world.agency_deal(1, ("amo",))
    seen: list[str] = []

    def spy() -> None:
        with world.store.transaction() as session:
            seen.extend(r.state for r in intents.pending(session, "amo"))

    world.amo.faults.before("create_deals", spy)
    world.engine().sync()
    assert seen == [IntentState.PENDING.value]


def test_a_webhook_pass_handles_due_hints_without_listing(world: World) -> None:
    import datetime as dt

    from bridge.model import Hint, HintKind
    from sync.sources import inbox as sync_inbox

    hinted = world.agency_deal(1, ("amo",))
    world.agency_deal(2, ("amo",))  # changed too, but nobody hinted it
    hint = Hint(world.agency.system, hinted.id, HintKind.UPDATED, world.clock())
    sync_inbox.record(world.store, [hint, hint], dt.timedelta(seconds=2))
    engine = world.engine()
    engine.retry_parked = False
    engine.sync(poll=False)
    assert world.amo.deals == {}  # still debounced
    world.clock.advance(3)
    engine.sync(poll=False)
    assert [d.stamp for d in world.amo.deals.values()] == [hinted.id]
    assert world.agency.calls["list_changed"] == 0
    assert world.agency.calls["fetch_deals"] == 1  # both hints, one bulk read
    with world.store.transaction() as session:
        assert inbox.due(session, world.clock() + dt.timedelta(hours=1)) == []


def test_hints_of_a_partner_that_fails_mid_pass_are_kept(world: World) -> None:
    import datetime as dt

    from bridge.model import Hint, HintKind
    from sync.sources import inbox as sync_inbox

    deal = world.agency_deal(1, ("amo",))
    engine = world.engine()
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    world.amo.user_edit(partner_deal.id, stage_id="102")
    hint = Hint(world.amo.system, partner_deal.id, HintKind.UPDATED, world.clock())
    sync_inbox.record(world.store, [hint], dt.timedelta(0))
    world.amo.faults.fail("fetch_deals", TransientError("502"), times=None)
    report = engine.sync(poll=False)
    assert "amo" in report.errors
    world.amo.faults.clear()
    engine.sync(poll=False)
    assert world.agency.deals[deal.id].stage_id == "C7:WORK"


def test_reconcile_closes_links_of_a_deleted_agency_deal(world: World) -> None:
    from sync.sources.reconcile import reconcile

    deal = world.agency_deal(1, ("amo",))
    missed = world.agency_deal(2, ("b24",))
    engine = world.engine()
    engine.sync()
    world.agency.user_delete(deal.id)
    report = reconcile(
        engine.store,
        engine.mapping,
        engine.agency,
        {c: engine.partners[c] for c in engine.reachable()},
        engine.clock(),
    )
    assert report.agency_missing == [deal.id]
    engine.sync()
    with world.store.transaction() as session:
        (row,) = links.by_agency_ids(session, [deal.id])
        assert row.status == LinkStatus.CLOSED.value
        assert links.by_agency_ids(session, [missed.id])[0].status == LinkStatus.ACTIVE.value


def test_a_rate_limited_partner_rests_without_holding_up_the_others(world: World) -> None:
    from bridge.crm import RateLimited

    engine = world.engine()
    engine.sync()
    world.amo.faults.fail("list_changed", RateLimited("429", retry_after=120))
    engine.sync()
    assert world.amo.faults.pending == 0
    calls = world.amo.total_calls
    world.agency_deal(1, ("amo", "b24"))
    world.clock.advance(60)
    report = engine.sync()  # amo is still resting: not called at all
    assert world.amo.total_calls == calls and "amo" in report.errors
    assert len(world.b24.deals) == 1
    world.clock.advance(61)
    engine.sync()
    assert len(world.amo.deals) == 1


def test_notes_are_mirrored_once_each_way_when_enabled(world: World) -> None:
    import datetime as dt

    from bridge.model import Hint, HintKind, Note
    from sync.sources import inbox as sync_inbox

    deal = world.agency_deal(1, ("amo",))
    engine = world.engine()
    notes_on = dataclasses.replace(world.mapping.partners["amo"].policies, mirror_notes=True)
    amo = dataclasses.replace(world.mapping.partners["amo"], policies=notes_on)
    engine.update_mapping(
        dataclasses.replace(world.mapping, partners={**world.mapping.partners, "amo": amo})
    )
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    world.amo.notes[partner_deal.id] = [Note(partner_deal.id, "Клиент просит КП до пятницы")]
    world.agency.notes[deal.id] = [Note(deal.id, "Бюджет согласован")]
    hint = Hint(world.amo.system, partner_deal.id, HintKind.UPDATED, world.clock())
    sync_inbox.record(world.store, [hint], dt.timedelta(0))
    engine.sync(poll=False)
    agency_texts = [n.text for n in world.agency.notes[deal.id]]
    partner_texts = [n.text for n in world.amo.notes[partner_deal.id]]
    assert any("Клиент просит КП до пятницы" in t and "[partner-bridge]" in t for t in agency_texts)
    assert any("Бюджет согласован" in t and "[partner-bridge]" in t for t in partner_texts)
    sync_inbox.record(world.store, [hint], dt.timedelta(0))
    writes = world.writes()
    engine.sync(poll=False)
    assert world.writes() == writes  # nothing mirrored back, nothing twice
    assert world.amo.calls["list_notes"] == 0, "notes are read in bulk, never deal by deal"
