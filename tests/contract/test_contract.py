"""Behaviours every ``Crm`` implementation must have: the adapters over HTTP, and the fake."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from bridge.crm import AuthError, Crm, NotFound, PermanentError, TransientError
from bridge.model import Company, Contact, DealDraft, DealPatch, Money, Note, Semantics, Stage
from bridge.sandbox.emulator import Fault, FaultKind
from tests.contract.harness import Backend


def _open_stages(backend: Backend) -> list[Stage]:
    return [s for s in backend.pipeline.stages if s.semantics is Semantics.OPEN]


def _draft(backend: Backend, n: int) -> DealDraft:
    return DealDraft(
        key=f"k{n}",
        title=f"Лендинг для «Ромашки» №{n}",
        pipeline_id=backend.pipeline.id,
        stage_id=_open_stages(backend)[0].id,
        amount=_money(backend, 150000 + n),
        contact=Contact(
            name=f"Иван Петров {n}",
            phones=(f"+7 (912) 345-67-{n:02d}",),
            emails=(f"ivan{n}@example.ru",),
        ),
        company=Company(name=f"ООО «Ромашка {n}»"),
        stamp=f"agency-{n}",
        fields={backend.text_field.id: f"Бриф №{n}: сайт под ключ"},
    )


def _money(backend: Backend, amount: int) -> Money:
    return Money(Decimal(amount), backend.currency)


def _create(backend: Backend, count: int, start: int = 1) -> list[str]:
    drafts = [_draft(backend, n) for n in range(start, start + count)]
    results = backend.crm.create_deals(drafts)
    assert [r.key for r in results] == [d.key for d in drafts]
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    ids = [r.deal_id for r in results]
    assert all(ids) and len(set(ids)) == count
    return [str(i) for i in ids]


def _changed_ids(crm: Crm, since: dt.datetime) -> tuple[set[str], dt.datetime]:
    seen: set[str] = set()
    watermarks: set[dt.datetime] = set()
    for page in crm.list_changed(since):
        seen.update(d.id for d in page.deals)
        watermarks.add(page.watermark)
    assert len(watermarks) == 1, "every page of one listing carries the same watermark"
    return seen, watermarks.pop()


def test_pipelines_have_open_won_and_lost_stages(backend: Backend) -> None:
    pipelines = backend.crm.pipelines()
    assert backend.pipeline.id in {p.id for p in pipelines}
    semantics = {s.semantics for s in backend.pipeline.stages}
    assert semantics == {Semantics.OPEN, Semantics.WON, Semantics.LOST}
    assert len(_open_stages(backend)) >= 2
    assert all(s.pipeline_id == backend.pipeline.id for s in backend.pipeline.stages)
    names = [s.name for s in backend.pipeline.stages]
    assert any(any("а" <= ch <= "я" for ch in name.lower()) for name in names), names


def test_custom_fields_include_the_text_field(backend: Backend) -> None:
    fields = {f.id: f for f in backend.crm.custom_fields()}
    assert backend.text_field.id in fields
    assert fields[backend.text_field.id].name == backend.text_field.name


def test_create_many_then_fetch_many(backend: Backend) -> None:
    ids = _create(backend, 3)
    deals = backend.crm.fetch_deals(ids)
    assert set(deals) == set(ids)
    for n, deal_id in enumerate(ids, start=1):
        deal = deals[deal_id]
        assert deal.title == f"Лендинг для «Ромашки» №{n}"
        assert deal.pipeline_id == backend.pipeline.id
        assert deal.stage_id == _open_stages(backend)[0].id
        assert deal.amount == _money(backend, 150000 + n)
        assert deal.stamp == f"agency-{n}"
        assert deal.fields[backend.text_field.id] == f"Бриф №{n}: сайт под ключ"
        assert deal.updated_at.tzinfo is dt.UTC
        assert deal.contact_ids, "the client contact travels with a new deal"


def test_contact_travels_with_the_deal(backend: Backend) -> None:
    (deal_id,) = _create(backend, 1, start=7)
    deal = backend.crm.fetch_deals([deal_id])[deal_id]
    contacts = backend.crm.fetch_contacts(list(deal.contact_ids))
    contact = contacts[deal.contact_ids[0]]
    assert contact.name == "Иван Петров 7"
    assert any("345" in p and p.endswith("07") for p in contact.phones), contact.phones
    assert "ivan7@example.ru" in contact.emails


def test_company_travels_with_the_deal(backend: Backend) -> None:
    (deal_id,) = _create(backend, 1, start=8)
    deal = backend.crm.fetch_deals([deal_id])[deal_id]
    assert deal.company_id, "the client's company is linked to the new deal"
    companies = backend.crm.fetch_companies([deal.company_id, "999999994"])
    assert set(companies) == {deal.company_id}
    assert companies[deal.company_id].name == "ООО «Ромашка 8»"
    assert backend.crm.fetch_companies([]) == {}


def test_company_tax_id_travels_and_reads_back(backend: Backend) -> None:
    # Bitrix24 keeps the ИНН in a requisite of the company, amoCRM in a company field.
    with_inn = dataclasses.replace(
        _draft(backend, 9), company=Company(name="ООО «Горизонт»", tax_id="7707083893")
    )
    without = _draft(backend, 10)
    results = backend.crm.create_deals([with_inn, without])
    assert all(r.ok for r in results), [r.error for r in results]
    deals = backend.crm.fetch_deals([str(r.deal_id) for r in results])
    company_ids = [deals[str(r.deal_id)].company_id for r in results]
    assert all(company_ids)
    companies = backend.crm.fetch_companies([str(c) for c in company_ids])
    first, second = (companies[str(c)] for c in company_ids)
    assert (first.name, first.tax_id) == ("ООО «Горизонт»", "7707083893")
    assert (second.name, second.tax_id) == ("ООО «Ромашка 10»", None)


def test_users_are_listed_with_names(backend: Backend) -> None:
    from bridge.crm import UserDirectory

    assert isinstance(backend.crm, UserDirectory), "mapping.yaml may name users"
    users = backend.crm.users()
    assert users, "every account has at least its admin"
    assert len({u.id for u in users}) == len(users)
    assert all(u.id and u.name for u in users)


def test_fetch_skips_missing_ids(backend: Backend) -> None:
    (deal_id,) = _create(backend, 1)
    deals = backend.crm.fetch_deals([deal_id, "999999991"])
    assert set(deals) == {deal_id}
    assert backend.crm.fetch_deals([]) == {}


def test_find_by_stamp(backend: Backend) -> None:
    ids = _create(backend, 2, start=20)
    found = backend.crm.find_by_stamp(["agency-20", "agency-21", "agency-404"])
    assert {k: v.id for k, v in found.items()} == {"agency-20": ids[0], "agency-21": ids[1]}


def test_a_patch_stamps_a_deal_a_person_made(backend: Backend) -> None:
    """A partner-registered lead: the bridge did not create the partner deal, yet stamps it
    with its agency deal's id once that exists, so the usual stamp lookup finds it."""
    (deal_id,) = backend.seed_deals(1)
    before = backend.crm.fetch_deals([deal_id])[deal_id]
    assert before.stamp is None
    (result,) = backend.crm.update_deals([DealPatch(deal_id, stamp="agency-77")])
    assert result.ok, result.error
    after = backend.crm.fetch_deals([deal_id])[deal_id]
    assert after.stamp == "agency-77"
    assert (after.title, after.stage_id, after.amount) == (
        before.title,
        before.stage_id,
        before.amount,
    )
    found = backend.crm.find_stamped(["agency-77", "agency-404"])
    assert {k: [d.id for d in v] for k, v in found.items()} == {"agency-77": [deal_id]}


def test_update_many(backend: Backend) -> None:
    ids = _create(backend, 2, start=30)
    before = backend.crm.fetch_deals(ids)
    backend.advance_clock(5)
    target = _open_stages(backend)[1]
    patches = [
        DealPatch(
            ids[0],
            title="Обновлённое название",
            stage_id=target.id,
            amount=_money(backend, 99000),
            fields={backend.text_field.id: "Новый бриф"},
        ),
        DealPatch(ids[1], title="Только название"),
    ]
    results = backend.crm.update_deals(patches)
    assert [r.key for r in results] == ids
    assert all(r.ok for r in results), [r.error for r in results]
    after = backend.crm.fetch_deals(ids)
    first, second = after[ids[0]], after[ids[1]]
    assert (first.title, first.stage_id) == ("Обновлённое название", target.id)
    assert first.amount == _money(backend, 99000)
    assert first.fields[backend.text_field.id] == "Новый бриф"
    assert first.updated_at > before[ids[0]].updated_at
    assert second.title == "Только название"
    assert second.stage_id == before[ids[1]].stage_id, "a patch touches only what it names"
    assert second.fields[backend.text_field.id] == "Бриф №31: сайт под ключ"


def test_move_to_won_stage(backend: Backend) -> None:
    (deal_id,) = _create(backend, 1, start=40)
    won = next(s for s in backend.pipeline.stages if s.semantics is Semantics.WON)
    (result,) = backend.crm.update_deals([DealPatch(deal_id, stage_id=won.id)])
    assert result.ok, result.error
    assert backend.crm.fetch_deals([deal_id])[deal_id].stage_id == won.id


def test_one_failed_update_does_not_fail_the_others(backend: Backend) -> None:
    (deal_id,) = _create(backend, 1, start=50)
    results = backend.crm.update_deals(
        [DealPatch("999999992", title="нет такой"), DealPatch(deal_id, title="Есть такая")]
    )
    assert [r.key for r in results] == ["999999992", deal_id]
    assert isinstance(results[0].error, NotFound | PermanentError)
    assert results[1].ok
    assert backend.crm.fetch_deals([deal_id])[deal_id].title == "Есть такая"


def test_list_changed_since(backend: Backend) -> None:
    ids = _create(backend, 4, start=60)
    backend.advance_clock(10)
    since = backend.now()
    backend.user_edit_title(ids[1], "Изменено в интерфейсе")
    backend.user_edit_title(ids[3], "И это тоже")
    changed, watermark = _changed_ids(backend.crm, since)
    assert {ids[1], ids[3]} <= changed
    assert not {ids[0], ids[2]} & changed
    assert since - dt.timedelta(seconds=1) <= watermark <= backend.now()


def test_list_changed_misses_nothing_when_deals_change_during_paging(backend: Backend) -> None:
    ids = backend.seed_deals(600)
    backend.advance_clock(10)
    since = backend.now()
    edited_before = ids[:300]
    for deal_id in edited_before:
        backend.user_edit_title(deal_id, "до листинга")
    edited_during = [*ids[:5], *ids[300:310], ids[-1]]
    first_listing: set[str] = set()
    watermark: dt.datetime | None = None
    for n, page in enumerate(backend.crm.list_changed(since)):
        first_listing.update(d.id for d in page.deals)
        watermark = page.watermark
        if n == 0:
            for deal_id in edited_during:
                backend.user_edit_title(deal_id, "во время листинга")
    assert watermark is not None
    assert set(edited_before) <= first_listing, "changes made before the listing are all in it"
    second_listing, _ = _changed_ids(backend.crm, watermark)
    missed = set(edited_during) - (first_listing | second_listing)
    assert not missed, f"changes made during paging were lost: {sorted(missed)}"


def test_list_changed_with_nothing_changed_yields_one_empty_page(backend: Backend) -> None:
    backend.advance_clock(3600)
    pages = list(backend.crm.list_changed(backend.now() + dt.timedelta(seconds=1)))
    assert len(pages) == 1
    assert pages[0].deals == ()


def test_notes_round_trip(backend: Backend) -> None:
    (deal_id,) = _create(backend, 1, start=70)
    text = "Клиент просит перезвонить в четверг ☎"
    results = backend.crm.add_notes([Note(deal_id, text), Note(deal_id, "Второй комментарий")])
    assert all(r.ok for r in results), [r.error for r in results]
    notes = backend.crm.list_notes(deal_id)
    assert [n.text for n in notes][-2:] == [text, "Второй комментарий"]
    assert all(n.deal_id == deal_id and n.id for n in notes)


def test_notes_of_many_deals_are_read_in_bulk(backend: Backend) -> None:
    busy, quiet, empty = _create(backend, 3, start=90)
    many = [Note(busy, f"заметка №{n:02d}") for n in range(60)]  # more than a Bitrix24 page
    results = backend.crm.add_notes([*many, Note(quiet, "Единственная ✓")])
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    before = backend.requests
    found = backend.crm.list_notes_many([busy, quiet, empty, "999999990", busy])
    used = backend.requests - before
    assert set(found) == {busy, quiet, empty, "999999990"}
    assert [n.text for n in found[busy]] == [n.text for n in many], "every page, oldest first"
    assert [n.text for n in found[quiet]] == ["Единственная ✓"]
    assert found[empty] == [] and found["999999990"] == []
    assert all(n.deal_id == d for d, notes in found.items() for n in notes)
    assert found[busy] == backend.crm.list_notes(busy)
    # One bulk read, plus one for the busy deal's second page where pages are 50.
    assert used <= 2, f"{used} requests for the notes of 4 deals"
    assert backend.crm.list_notes_many([]) == {}


def test_note_on_missing_deal_is_an_item_error(backend: Backend) -> None:
    (result,) = backend.crm.add_notes([Note("999999993", "в пустоту")])
    assert isinstance(result.error, NotFound | PermanentError)


def test_server_errors_become_transient(backend: Backend) -> None:
    (deal_id,) = _create(backend, 1, start=80)
    backend.arm_fault(Fault(FaultKind.SERVER_ERROR, times=1000, status=500))
    with pytest.raises(TransientError):
        backend.crm.fetch_deals([deal_id])


def test_rejected_credentials_become_auth_error(backend: Backend) -> None:
    crm = backend.crm_with_bad_credentials()
    try:
        with pytest.raises(AuthError):
            crm.fetch_deals(["1"])
    finally:
        crm.close()


def test_adapter_never_leaks_credentials_in_errors(backend: Backend) -> None:
    crm = backend.crm_with_bad_credentials()
    try:
        with pytest.raises(AuthError) as caught:
            crm.pipelines()
        texts = [str(caught.value), repr(caught.value), repr(crm), repr(backend.crm)]
    finally:
        crm.close()
    for secret in backend.secrets:
        for text in texts:
            assert secret not in text
