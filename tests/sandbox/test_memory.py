"""What ``MemoryCrm`` does beyond the contract suite: paging, drift, test controls, faults.

The behaviours every ``Crm`` shares (fetch, stamps, notes, listing without gaps,
credentials) are checked for it in ``tests/contract`` like for the adapters.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.crm import Crm, NotFound, OutcomeUnknown, PermanentError, RateLimited
from bridge.mapping.stamp import StampFieldHost
from bridge.model import Contact, DealDraft, DealPatch
from bridge.sandbox.memory import ManualClock, MemoryCrm
from tests.mapping.conftest import agency_fake, amo_fake


def _draft(key: str, stamp: str | None = None, stage: str = "71") -> DealDraft:
    return DealDraft(key, f"Сделка {key}", "7001", stage, stamp=stamp, fields={"9001": "бриф"})


def test_fake_is_a_crm_and_has_the_stamp_field_only_when_asked() -> None:
    assert isinstance(amo_fake(), Crm)
    assert isinstance(amo_fake(), StampFieldHost)
    assert not isinstance(agency_fake(), StampFieldHost)
    crm = amo_fake()
    assert crm.find_stamp_field() is None
    created = crm.ensure_stamp_field()
    assert crm.ensure_stamp_field() == created == crm.find_stamp_field()


def test_changes_are_listed_from_since_with_a_start_watermark() -> None:
    crm = amo_fake()
    crm.page_size = 2
    created = crm.create_deals([_draft(str(i)) for i in range(5)])
    assert [r.ok for r in created] == [True] * 5
    start = crm.tick()  # a moment after the last creation
    pages = list(crm.list_changed(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    assert [len(p.deals) for p in pages] == [2, 2, 1]
    assert {p.watermark for p in pages} == {start}
    assert crm.calls["list_changed"] == 3  # one request per page
    edited = crm.user_edit(created[3].deal_id or "", title="Новое")
    later = list(crm.list_changed(start))
    assert [d.id for p in later for d in p.deals] == [edited.id]


def test_unknown_stage_is_an_item_error_and_contacts_are_kept() -> None:
    crm = amo_fake()
    contact = Contact("Иван Петров", phones=("+79990000000",))
    draft = DealDraft("a", "Сайт", "7001", "71", contact=contact, stamp="agency:42")
    results = crm.create_deals([draft, _draft("b", stage="nope")])
    assert results[0].ok and isinstance(results[1].error, PermanentError)
    deal = crm.find_by_stamp(["agency:42"])["agency:42"]
    assert crm.fetch_contacts(list(deal.contact_ids))[deal.contact_ids[0]].name == "Иван Петров"
    moved = crm.update_deals([DealPatch(deal.id, stage_id="nope")])
    assert isinstance(moved[0].error, PermanentError)
    assert crm.fetch_deals([deal.id])[deal.id].stage_id == "71"


def test_patch_clears_a_field_with_none_and_missing_deals_fail_alone() -> None:
    crm = amo_fake()
    deal_id = crm.create_deals([_draft("a")])[0].deal_id or ""
    results = crm.update_deals(
        [DealPatch(deal_id, stage_id="142", fields={"9001": None}), DealPatch("999", title="x")]
    )
    assert results[0].ok and isinstance(results[1].error, NotFound)
    deal = crm.fetch_deals([deal_id, "999"])
    assert list(deal) == [deal_id]
    assert deal[deal_id].stage_id == "142" and "9001" not in deal[deal_id].fields


def test_calls_are_counted_per_batch_and_writes_apart() -> None:
    crm = amo_fake()
    crm.batch_size = 2
    crm.create_deals([_draft(str(i)) for i in range(5)])
    crm.fetch_deals(["1"])
    crm.fetch_deals([])
    assert crm.calls["create_deals"] == 3 and crm.calls["fetch_deals"] == 2
    assert crm.writes == 3 and crm.total_calls == 5


def test_a_shared_clock_moves_with_every_write_on_any_account() -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC))
    first, second = MemoryCrm("a", clock=clock), MemoryCrm("b", clock=clock, step=1)
    before = clock()
    first.seed(title="x", pipeline_id="1", stage_id="1", amount=None)
    second.seed(title="y", pipeline_id="1", stage_id="1", amount=None)
    assert clock() == before + dt.timedelta(seconds=1.001)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)


def test_the_next_n_calls_fail_then_the_operation_recovers() -> None:
    crm = amo_fake()
    crm.faults.fail("fetch_deals", RateLimited("429", retry_after=3), times=2)
    for _ in range(2):
        with pytest.raises(RateLimited):
            crm.fetch_deals(["1"])
    assert crm.fetch_deals(["1"]) == {} and crm.faults.pending == 0
    assert crm.pipelines(), "other operations were never affected"


def test_a_fault_until_cleared_and_a_fault_on_any_operation() -> None:
    crm = amo_fake()
    crm.faults.fail(None, PermanentError("down"), times=None)
    for call in (crm.pipelines, crm.custom_fields, lambda: crm.list_notes("1")):
        with pytest.raises(PermanentError):
            call()
    crm.faults.clear()
    assert crm.pipelines()


def test_a_lost_response_happens_after_the_write() -> None:
    crm = amo_fake()
    crm.faults.lose_response("create_deals")
    with pytest.raises(OutcomeUnknown):
        crm.create_deals([_draft("a", stamp="agency:1")])
    assert list(crm.find_by_stamp(["agency:1"])) == ["agency:1"], "the deal was created"
    with pytest.raises(ValueError, match="only a write"):
        crm.faults.lose_response("fetch_deals")


def test_an_action_runs_before_each_call_until_cleared() -> None:
    crm = amo_fake()
    seen: list[int] = []
    crm.faults.before("create_deals", lambda: seen.append(len(crm.deals)))
    crm.create_deals([_draft("a")])
    crm.create_deals([_draft("b")])
    crm.faults.clear("create_deals")
    crm.create_deals([_draft("c")])
    assert seen == [0, 1]
