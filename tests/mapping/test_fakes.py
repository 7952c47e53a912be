"""The in-memory FakeCrm keeps the Crm protocol's promises (so tests built on it mean something)."""

from __future__ import annotations

import datetime as dt

from bridge.crm import Crm, NotFound, PermanentError
from bridge.model import Contact, DealDraft, DealPatch, Note
from tests.fakes import FakeAmoCrm, FakeCrm
from tests.mapping.conftest import amo_fake


def _draft(key: str, stamp: str | None = None, stage: str = "71") -> DealDraft:
    return DealDraft(key, f"Сделка {key}", "7001", stage, stamp=stamp, fields={"9001": "бриф"})


def test_fake_is_a_crm() -> None:
    assert isinstance(amo_fake(), Crm)
    assert isinstance(amo_fake(), FakeAmoCrm)


def test_changes_are_listed_from_since_with_a_start_watermark() -> None:
    crm = amo_fake()
    crm.page_size = 2
    created = crm.create_deals([_draft(str(i)) for i in range(5)])
    assert [r.ok for r in created] == [True] * 5
    start = crm.tick()  # a moment after the last creation
    pages = list(crm.list_changed(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    assert [len(p.deals) for p in pages] == [2, 2, 1]
    assert {p.watermark for p in pages} == {start}
    edited = crm.user_edit(created[3].deal_id or "", title="Новое")
    later = list(crm.list_changed(start))
    assert [d.id for p in later for d in p.deals] == [edited.id]


def test_empty_listing_still_yields_one_page() -> None:
    pages = list(FakeCrm().list_changed(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    assert len(pages) == 1 and pages[0].deals == ()


def test_stamps_contacts_and_per_item_errors() -> None:
    crm = amo_fake()
    contact = Contact("Иван Петров", phones=("+79990000000",))
    draft = DealDraft("a", "Сайт", "7001", "71", contact=contact, stamp="agency:42")
    results = crm.create_deals([draft, _draft("b", stage="nope")])
    assert results[0].ok and isinstance(results[1].error, PermanentError)
    found = crm.find_by_stamp(["agency:42", "agency:43"])
    assert list(found) == ["agency:42"]
    deal = found["agency:42"]
    assert crm.fetch_contacts(list(deal.contact_ids))[deal.contact_ids[0]].name == "Иван Петров"


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


def test_notes_are_kept_oldest_first() -> None:
    crm = amo_fake()
    deal_id = crm.create_deals([_draft("a")])[0].deal_id or ""
    crm.add_notes([Note(deal_id, "первая"), Note(deal_id, "вторая")])
    assert [n.text for n in crm.list_notes(deal_id)] == ["первая", "вторая"]
    assert not crm.add_notes([Note("999", "x")])[0].ok
