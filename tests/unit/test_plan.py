"""Worked examples of every planner rule, with plain values (no HTTP, no store)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

from bridge.canonical import synced_from_json, synced_to_json
from bridge.mapping.compiled import Broken, CrmKind, Policies, Side, UnmappedStage
from bridge.model import CanonicalValue, LinkStatus, Money, Note
from sync.plan import plan_agency_deal, plan_partner_change
from sync.plan.types import (
    AMOUNT_KEY,
    STAGE_KEY,
    AddNote,
    CloseLink,
    CreatePartnerDeal,
    LinkPlan,
    OrphanLink,
    Park,
    Skip,
    UpdateDeal,
    pending_link,
)
from sync.plan.values import written_hash
from tests.unit.test_plan_helpers import (
    AGENCY,
    PARTNERS,
    T0,
    Sides,
    agency_deal,
    edit,
    partner_deal,
    updates,
    world,
    writes,
)

Op = TypeVar("Op")


def _created() -> Sides:
    sides = Sides(agency_deal())
    sides.run(world())
    return sides


def _only(plans: Sequence[LinkPlan], kind: type[Op]) -> list[Op]:
    return [op for plan in plans for op in plan.operations if isinstance(op, kind)]


# --- identity and creation ------------------------------------------------------------


def test_create_carries_contact_company_stamp_stage_and_mapped_fields() -> None:
    plans = plan_agency_deal(
        agency_deal(), {}, {"atwinta": None}, world(), now=T0, agency=AGENCY, partners=PARTNERS
    )
    assert [p.link_key for p in plans] == [("4242", "atwinta")]
    (create,) = plans[0].operations
    assert isinstance(create, CreatePartnerDeal)
    draft = create.draft
    assert draft.stamp == "4242"
    assert (draft.pipeline_id, draft.stage_id) == ("777", "101")
    assert draft.title == "Сайт для ООО «Ромашка»"
    assert draft.amount == Money(Decimal("300000"), "RUB")
    assert draft.responsible_id == "u-anna"
    assert draft.fields == {"5001": "Сайт на Битриксе, бюджет 300 тыс.", "5002": "9001"}
    assert draft.contact is not None and draft.company is not None
    assert draft.contact.name == "Иван Петров"
    assert draft.contact.phones == ("+79161234567",)  # from the mapped UF, normalised
    assert draft.contact.emails == ("ivan@romashka.ru",)
    assert (draft.company.name, draft.company.tax_id) == ("ООО «Ромашка»", "7701234567")
    state = plans[0].next_state
    assert state.status is LinkStatus.ACTIVE and state.partner_deal_id is None
    assert state.pair(STAGE_KEY) == ("C5:NEW", "101")
    assert plans[0].previous is None


def test_multi_value_routing_fans_out_one_link_per_partner() -> None:
    deal = agency_deal(fields={"UF_CRM_PARTNER": ("11", "12")})
    searched = {"atwinta": None, "kodix": None}
    plans = plan_agency_deal(deal, {}, searched, world(), now=T0, agency=AGENCY, partners=PARTNERS)
    assert [p.link_key for p in plans] == [("4242", "atwinta"), ("4242", "kodix")]
    drafts = [op.draft for op in _only(plans, CreatePartnerDeal)]
    assert [d.key for d in drafts] == ["4242:atwinta", "4242:kodix"]


def test_unrouted_deal_plans_nothing() -> None:
    deal = agency_deal(fields={"UF_CRM_PARTNER": None})
    assert plan_agency_deal(deal, {}, {}, world(), now=T0) == []


def test_partner_deal_found_by_stamp_is_bound_not_created_again() -> None:
    sides = _created()
    found = partner_deal(sides)
    pending = dataclasses.replace(sides.links["atwinta"], partner_deal_id=None)
    pending = dataclasses.replace(pending, status=LinkStatus.PENDING_CREATE)
    plans = plan_agency_deal(
        sides.agency,
        {"atwinta": pending},
        {"atwinta": found},
        world(),
        now=T0,
        agency=AGENCY,
        partners=PARTNERS,
    )
    assert writes(plans) == []
    assert plans[0].next_state.partner_deal_id == found.id


def test_a_new_link_whose_stamp_was_not_searched_is_not_created() -> None:
    # An empty or restored store knows no link: only the CRM may say "no deal there".
    (plan,) = plan_agency_deal(agency_deal(), {}, {}, world(), now=T0, agency=AGENCY)
    (skip,) = plan.operations
    assert isinstance(skip, Skip) and "stamp" in skip.reason


def test_a_stamped_deal_found_for_a_link_the_store_never_knew_is_adopted() -> None:
    sides = _created()
    found = partner_deal(sides)
    plans = plan_agency_deal(
        sides.agency, {}, {"atwinta": found}, world(), now=T0, agency=AGENCY, partners=PARTNERS
    )
    assert not _only(plans, CreatePartnerDeal)
    assert plans[0].next_state.partner_deal_id == found.id
    assert plans[0].next_state.status is LinkStatus.ACTIVE


def test_duplicate_stamps_bind_the_oldest_and_hold_the_link_until_a_person_retries() -> None:
    sides = _created()
    oldest = partner_deal(sides)
    extras = {"atwinta": dataclasses.replace(PARTNERS["atwinta"], stamped_others=("91", "97"))}
    (plan,) = plan_agency_deal(
        sides.agency, {}, {"atwinta": oldest}, world(), now=T0, agency=AGENCY, partners=extras
    )
    (park,) = plan.operations
    assert isinstance(park, Park)
    assert "91, 97" in park.reason and oldest.id in park.reason and "bridge retry" in park.reason
    held = plan.next_state
    assert held.partner_deal_id == oldest.id and held.status is LinkStatus.PARKED
    assert held.hold == park.reason
    # Later passes keep it held without writing anything, duplicates seen or not.
    (again,) = plan_agency_deal(
        sides.agency, {"atwinta": held}, {"atwinta": oldest}, world(), now=T0, agency=AGENCY
    )
    assert again.operations == () and again.next_state == held
    # The hold survives the store's JSON round trip.
    stored = synced_from_json(synced_to_json(held.synced))
    assert dataclasses.replace(held, synced=stored).hold == park.reason


# --- echo suppression -----------------------------------------------------------------


def test_our_own_write_read_back_is_an_echo() -> None:
    sides = _created()
    sides.agency = edit(sides.agency, sides.tick(), {"UF_CRM_BRIEF": "Новый бриф"})
    first = sides.run(world())
    (update,) = writes(first)
    assert isinstance(update, UpdateDeal) and update.side is Side.PARTNER
    assert update.patch.fields == {"5001": "Новый бриф"}
    # The partner CRM now reports a change (its updated_at moved): it is our echo.
    echo = sides.plan(world())
    assert writes(echo) == [] and echo[0].audit == ()
    state = sides.links["atwinta"]
    assert state.written_partner == echo[0].next_state.written_partner


def test_written_hash_is_stable_and_order_free() -> None:
    a: dict[str, CanonicalValue] = {"x": Decimal("1.5"), "y": ("Привет", None)}
    b: dict[str, CanonicalValue] = {"y": ("Привет", None), "x": Decimal("1.5")}
    assert written_hash(a) == written_hash(b)
    assert written_hash(a) != written_hash({**a, "x": Decimal("1.6")})


# --- direction and ownership ----------------------------------------------------------


def test_only_partner_changed_both_field_goes_to_agency() -> None:
    sides = _created()
    sides.partners["atwinta"] = edit(partner_deal(sides), sides.tick(), {"5004": "2026-05-01"})
    (update,) = updates(sides.run(world()))
    assert update.side is Side.AGENCY
    assert update.patch.fields == {"UF_CRM_DEADLINE": dt.date(2026, 5, 1)}


def test_to_partner_field_edited_by_partner_is_restored_and_audited() -> None:
    sides = _created()
    sides.partners["atwinta"] = edit(partner_deal(sides), sides.tick(), {"5001": "чужой бриф"})
    plans = sides.run(world())
    (update,) = updates(plans)
    assert update.side is Side.PARTNER
    assert update.patch.fields == {"5001": "Сайт на Битриксе, бюджет 300 тыс."}
    (entry,) = plans[0].audit
    assert (entry.field, entry.side_changed, entry.winner) == ("brief", Side.PARTNER, Side.AGENCY)
    assert entry.loser_value == "чужой бриф"


def test_conflict_owner_wins_and_loser_is_audited() -> None:
    sides = _created()
    at = sides.tick()
    sides.agency = edit(sides.agency, at, {"UF_CRM_KIND": "62"})  # kind: agency owns it
    sides.partners["atwinta"] = edit(
        partner_deal(sides), at, {"5002": "9001", "5004": "2026-06-01"}
    )
    sides.agency = edit(sides.agency, at, {"UF_CRM_DEADLINE": "2026-07-01"})  # partner owns
    plans = sides.run(world())
    patches = {op.side: op.patch.fields for op in updates(plans)}
    assert patches[Side.PARTNER] == {"5002": "9002"}
    assert patches[Side.AGENCY] == {"UF_CRM_DEADLINE": dt.date(2026, 6, 1)}
    audit = {e.field: e for e in plans[0].audit}
    assert set(audit) == {"deadline"}  # kind: only the agency moved, so no conflict there
    assert audit["deadline"].winner is Side.PARTNER
    assert audit["deadline"].side_changed is Side.AGENCY
    assert audit["deadline"].loser_value == dt.date(2026, 7, 1)


def test_conflict_both_changed_agency_owner_wins() -> None:
    sides = _created()
    at = sides.tick()
    sides.agency = edit(sides.agency, at, {"UF_CRM_KIND": "62"})
    sides.partners["atwinta"] = edit(partner_deal(sides), at, {"5002": None})
    plans = sides.run(world())
    (update,) = updates(plans)
    assert update.side is Side.PARTNER and update.patch.fields == {"5002": "9002"}
    (entry,) = plans[0].audit
    assert (entry.winner, entry.side_changed, entry.old, entry.loser_value) == (
        Side.AGENCY,
        Side.PARTNER,
        "9001",
        None,
    )
    assert partner_deal(sides).fields["5002"] == "9002"


def test_both_changed_to_the_same_value_writes_nothing() -> None:
    sides = _created()
    at = sides.tick()
    sides.agency = edit(sides.agency, at, {"UF_CRM_KIND": "62"})
    sides.partners["atwinta"] = edit(partner_deal(sides), at, {"5002": "9002"})
    plans = sides.run(world())
    assert writes(plans) == []
    (entry,) = plans[0].audit
    assert entry.winner is None and entry.field == "kind"
    assert plans[0].next_state.pair("kind") == ("62", "9002")


def test_amount_belongs_to_the_partner_in_a_conflict() -> None:
    sides = _created()
    at = sides.tick()
    sides.agency = edit(sides.agency, at, amount=Money(Decimal("1"), "RUB"))
    sides.partners["atwinta"] = edit(
        partner_deal(sides), at, amount=Money(Decimal("450000"), "RUB")
    )
    plans = sides.run(world())
    (update,) = updates(plans)
    assert update.side is Side.AGENCY and update.patch.amount == Money(Decimal("450000"), "RUB")
    assert plans[0].next_state.pair(AMOUNT_KEY) == (
        Money(Decimal("450000"), "RUB"),
        Money(Decimal("450000"), "RUB"),
    )


def test_to_agency_money_field_flows_back() -> None:
    sides = _created()
    sides.partners["atwinta"] = edit(
        partner_deal(sides), sides.tick(), {"5003": Decimal("120000.00")}
    )
    (update,) = updates(sides.run(world()))
    assert update.side is Side.AGENCY
    assert update.patch.fields == {"UF_CRM_PAID": Money(Decimal("120000"), "RUB")}


def test_unmapped_user_is_left_unset_not_parked() -> None:
    sides = _created()
    sides.agency = edit(sides.agency, sides.tick(), responsible_id="999")
    plans = sides.run(world())
    assert writes(plans) == [] and not _only(plans, Park)
    assert partner_deal(sides).responsible_id == "u-anna"


def test_enum_value_missing_from_table_parks_with_reason() -> None:
    sides = _created()
    sides.agency = edit(sides.agency, sides.tick(), {"UF_CRM_KIND": "63"})
    plans = sides.run(world())
    (park,) = _only(plans, Park)
    assert "kind" in park.reason and "63" in park.reason
    assert writes(plans) == []
    assert sides.links["atwinta"].status is LinkStatus.PARKED
    again = sides.run(world())  # still parked for the same reason: nothing new to say
    assert again[0].operations == ()
    sides.agency = edit(sides.agency, sides.tick(), {"UF_CRM_KIND": "62"})
    resumed = sides.run(world())
    assert [op.side for op in updates(resumed)] == [Side.PARTNER]
    assert sides.status() is LinkStatus.ACTIVE


def test_money_currency_mismatch_parks_rather_than_converting() -> None:
    deal = agency_deal(amount=Money(Decimal("5000"), "USD"))
    searched = {"atwinta": None}
    plans = plan_agency_deal(deal, {}, searched, world(), now=T0, agency=AGENCY, partners=PARTNERS)
    (park,) = plans[0].operations
    assert isinstance(park, Park)
    assert "USD" in park.reason and "RUB" in park.reason
    assert plans[0].next_state.status is LinkStatus.PARKED


# --- stages ---------------------------------------------------------------------------


def test_stage_translates_both_ways() -> None:
    sides = _created()
    sides.agency = edit(sides.agency, sides.tick(), stage_id="C5:WORK")
    (update,) = updates(sides.run(world()))
    # The planner names no pipeline: the amoCRM adapter adds the one holding stage 102.
    assert (update.patch.stage_id, update.patch.pipeline_id) == ("102", None)
    sides.partners["atwinta"] = edit(partner_deal(sides), sides.tick(), stage_id="101")
    (back,) = updates(sides.run(world()))
    # A stage move stays in the deal's pipeline on either side: no pipeline id.
    assert back.side is Side.AGENCY and (back.patch.stage_id, back.patch.pipeline_id) == (
        "C5:NEW",
        None,
    )


def test_won_and_lost_follow_semantics() -> None:
    sides = _created()
    sides.partners["atwinta"] = edit(partner_deal(sides), sides.tick(), stage_id="142")
    (won,) = updates(sides.run(world()))
    assert won.patch.stage_id == "C5:WON"  # the only won stage of the agency pipeline
    sides.agency = edit(sides.agency, sides.tick(), stage_id="C5:LOSE")
    (lost,) = updates(sides.run(world()))
    assert lost.side is Side.PARTNER and lost.patch.stage_id == "143"


def test_ambiguous_lost_stage_parks() -> None:
    sides = _created()
    sides.agency = edit(sides.agency, sides.tick(), stage_id="C5:HOLD")
    plans = sides.run(world())
    (park,) = _only(plans, Park)
    assert "'Пауза'" in park.reason and "atwinta" in park.reason


def test_unmapped_stage_ignored_keeps_stage_and_syncs_the_rest() -> None:
    ignoring = dataclasses.replace(
        world().partners["atwinta"].stages, unmapped=UnmappedStage.IGNORE
    )
    mapping = world(stages=ignoring)
    sides = Sides(agency_deal())
    sides.run(mapping)
    at = sides.tick()
    sides.agency = edit(sides.agency, at, {"UF_CRM_BRIEF": "другое"}, stage_id="C5:HOLD")
    plans = sides.run(mapping)
    (update,) = updates(plans)
    assert update.patch.stage_id is None and update.patch.fields == {"5001": "другое"}
    assert partner_deal(sides).stage_id == "101"
    assert writes(sides.run(mapping)) == []


def test_broken_stage_parks_with_the_mapping_reason() -> None:
    base = world().partners["atwinta"].stages
    broken = dataclasses.replace(
        base, broken_agency={"C5:WORK": Broken("Переговоры", "stage 'Переговоры' not found")}
    )
    mapping = world(stages=broken)
    sides = Sides(agency_deal())
    sides.run(mapping)
    sides.agency = edit(sides.agency, sides.tick(), stage_id="C5:WORK")
    (park,) = _only(sides.run(mapping), Park)
    assert "not found" in park.reason and "'В работе'" in park.reason


def test_partner_stage_outside_the_map_parks() -> None:
    sides = _created()
    sides.partners["atwinta"] = edit(partner_deal(sides), sides.tick(), stage_id="103")
    (park,) = _only(sides.run(world()), Park)
    assert "partner 'atwinta' stage 'Бриф у клиента' (id 103)" in park.reason


# --- link lifecycle -------------------------------------------------------------------


def test_paused_partner_is_skipped_with_reason() -> None:
    plans = plan_agency_deal(agency_deal(), {}, {}, world(paused=True), now=T0)
    (skip,) = plans[0].operations
    assert isinstance(skip, Skip) and "paused" in skip.reason


def test_unrouting_closes_the_link_without_deleting() -> None:
    sides = _created()
    sides.agency = edit(sides.agency, sides.tick(), {"UF_CRM_PARTNER": ("12",)})
    plans = sides.run(world())
    by_code = {p.link_key[1]: p for p in plans}
    assert isinstance(by_code["atwinta"].operations[0], CloseLink)
    assert isinstance(by_code["kodix"].operations[0], CreatePartnerDeal)
    assert sides.links["atwinta"].status is LinkStatus.CLOSED
    assert sides.partners["atwinta"] is not None
    assert [p.link_key[1] for p in sides.plan(world()) if p.operations] == []


def test_leaving_the_partner_pipeline_closes_the_link() -> None:
    sides = _created()
    sides.agency = edit(sides.agency, sides.tick(), pipeline_id="0", stage_id="NEW")
    (close,) = _only(sides.run(world()), CloseLink)
    assert "left the partner pipeline" in close.reason


def test_deleted_partner_deal_orphans_the_link_and_tells_the_agency() -> None:
    sides = _created()
    sides.partners["atwinta"] = None
    plans = sides.run(world())
    ops = plans[0].operations
    assert isinstance(ops[0], OrphanLink)
    assert isinstance(ops[1], AddNote) and ops[1].side is Side.AGENCY
    assert ops[1].note.deal_id == "4242" and "удалена" in ops[1].note.text
    assert sides.links["atwinta"].status is LinkStatus.ORPHANED
    assert sides.plan(world())[0].operations == ()


def test_unfetched_partner_deal_is_skipped_not_orphaned() -> None:
    sides = _created()
    plans = plan_agency_deal(sides.agency, sides.links, {}, world(), now=T0)
    (skip,) = plans[0].operations
    assert isinstance(skip, Skip) and "not fetched" in skip.reason


def test_plan_partner_change_mirrors_a_partner_edit() -> None:
    sides = _created()
    changed = edit(partner_deal(sides), sides.tick(), stage_id="102")
    plan = plan_partner_change(
        "atwinta",
        changed,
        sides.links["atwinta"],
        sides.agency,
        world(),
        now=T0,
        agency=AGENCY,
        partner=PARTNERS["atwinta"],
    )
    (update,) = plan.writes
    assert isinstance(update, UpdateDeal)
    assert update.side is Side.AGENCY and update.patch.stage_id == "C5:WORK"


def test_agency_deal_gone_closes_from_the_partner_side() -> None:
    sides = _created()
    plan = plan_partner_change(
        "atwinta", partner_deal(sides), sides.links["atwinta"], None, world(), now=T0
    )
    assert isinstance(plan.operations[0], CloseLink)


# --- notes ----------------------------------------------------------------------------


def test_notes_mirror_with_a_marker_and_never_come_back() -> None:
    sides = _created()
    sides.partner_notes["atwinta"] = [
        Note("p-atwinta-1", "Клиент просит КП до пятницы", created_at=sides.tick())
    ]
    sides.agency_notes.append(Note("4242", "Клиент VIP, будьте вежливы", created_at=sides.tick()))
    mirroring = world(policies=Policies(mirror_notes=True))
    assert not world().partners["atwinta"].policies.mirror_notes, "off unless the mapping says"
    assert _only(sides.run(world()), AddNote) == []
    plans = sides.run(mirroring)
    notes = _only(plans, AddNote)
    assert {n.side for n in notes} == {Side.AGENCY, Side.PARTNER}
    texts = {n.side: n.note.text for n in notes}
    assert texts[Side.AGENCY] == "[partner-bridge] Atwinta: Клиент просит КП до пятницы"
    assert texts[Side.PARTNER] == "[partner-bridge] Агентство: Клиент VIP, будьте вежливы"
    assert writes(sides.run(mirroring)) == []  # the mirrored copies are not mirrored back


def test_recorded_intent_is_not_created_again_without_a_stamp_search() -> None:
    pending = pending_link("4242", "atwinta")
    mapping = world()
    (unsearched,) = plan_agency_deal(agency_deal(), {"atwinta": pending}, {}, mapping, now=T0)
    (skip,) = unsearched.operations
    assert isinstance(skip, Skip) and "stamp" in skip.reason
    (searched,) = plan_agency_deal(
        agency_deal(), {"atwinta": pending}, {"atwinta": None}, mapping, now=T0
    )
    assert isinstance(searched.operations[0], CreatePartnerDeal)


def test_bitrix24_partner_gets_no_pipeline_id_with_a_stage_move() -> None:
    bitrix = dataclasses.replace(world().partners["atwinta"].connection, kind=CrmKind.BITRIX24)
    mapping = world(connection=bitrix)
    sides = Sides(agency_deal())
    sides.run(mapping)
    sides.agency = edit(sides.agency, sides.tick(), stage_id="C5:WORK")
    (update,) = updates(sides.run(mapping))
    assert (update.patch.stage_id, update.patch.pipeline_id) == ("102", None)


def test_write_applied_but_state_not_committed_is_recognised_as_echo() -> None:
    sides = _created()
    before = sides.links["atwinta"]
    at = sides.tick()
    sides.agency = edit(sides.agency, at, {"UF_CRM_BRIEF": "Бриф v2", "UF_CRM_KIND": "62"})
    sides.run(world())  # writes to the partner...
    sides.links["atwinta"] = before  # ...but the commit was lost (crash)
    plans = sides.run(world())
    assert writes(plans) == []
    assert plans[0].next_state.pair("brief") == ("Бриф v2", "Бриф v2")
    assert all(e.winner is None for e in plans[0].audit)


def test_cyrillic_survives_plan_store_and_replan() -> None:
    title = "Сайт для ИП Ёлкина — «Ёжик в тумане»"
    sides = Sides(agency_deal(title=title, fields={"UF_CRM_BRIEF": "Нужен лендинг, ёмкий текст"}))
    sides.run(world())
    assert partner_deal(sides).title == title
    assert partner_deal(sides).fields["5001"] == "Нужен лендинг, ёмкий текст"
    assert writes(sides.run(world())) == []


def test_closed_link_rerouted_resumes_on_the_same_partner_deal() -> None:
    sides = _created()
    deal_id = partner_deal(sides).id
    sides.agency = edit(sides.agency, sides.tick(), {"UF_CRM_PARTNER": None})
    sides.run(world())
    assert sides.links["atwinta"].status is LinkStatus.CLOSED
    sides.agency = edit(sides.agency, sides.tick(), {"UF_CRM_PARTNER": ("11",)}, stage_id="C5:WORK")
    plans = sides.run(world())
    assert not _only(plans, CreatePartnerDeal)
    (update,) = updates(plans)
    assert update.patch.deal_id == deal_id and update.patch.stage_id == "102"
    assert sides.status() is LinkStatus.ACTIVE


def test_partner_removed_from_mapping_closes_its_links() -> None:
    sides = _created()
    mapping = world()
    only_kodix = dataclasses.replace(mapping, partners={"kodix": mapping.partners["kodix"]})
    plans = plan_agency_deal(sides.agency, sides.links, {}, only_kodix, now=T0)
    (close,) = _only(plans, CloseLink)
    assert "no longer in mapping.yaml" in close.reason


def test_every_refusal_is_named_when_a_create_parks() -> None:
    deal = agency_deal(stage_id="C5:HOLD", fields={"UF_CRM_KIND": "63"})
    (plan,) = plan_agency_deal(
        deal, {}, {"atwinta": None}, world(), now=T0, agency=AGENCY, partners=PARTNERS
    )
    (park,) = plan.operations
    assert isinstance(park, Park)
    assert "'kind'" in park.reason and "'Пауза'" in park.reason


def test_orphan_notice_speaks_the_configured_language() -> None:
    sides = _created()
    sides.partners["atwinta"] = None
    english = world(policies=Policies(language="en"))
    plans = plan_agency_deal(sides.agency, sides.links, sides.partners, english, now=T0)
    (note,) = _only(plans, AddNote)
    assert note.note.text.startswith("[partner-bridge] The deal at partner 'Atwinta'")


def test_fan_out_partner_progress_reaches_the_agency_but_not_the_sibling() -> None:
    sides = Sides(agency_deal(fields={"UF_CRM_PARTNER": ("11", "12")}))
    sides.run(world())
    sides.partners["atwinta"] = edit(partner_deal(sides), sides.tick(), stage_id="142")
    ops = writes(sides.run(world()))
    (won,) = [op for op in ops if isinstance(op, UpdateDeal)]
    assert won.side is Side.AGENCY and won.patch.stage_id == "C5:WON"
    (told,) = [op for op in ops if isinstance(op, AddNote)]  # policies.fan_out.on_win: note
    assert told.link_key[1] == "kodix" and told.side is Side.PARTNER
    assert "другого исполнителя" in told.note.text
    assert sides.links["atwinta"].agency_writes() == {STAGE_KEY: "C5:WON"}
    plans = sides.run(world())  # kodix sees the agency move: atwinta's echo, not news
    assert writes(plans) == []
    assert partner_deal(sides, "kodix").stage_id == "101"
    sides.agency = edit(sides.agency, sides.tick(), stage_id="C5:LOSE")  # a person decides
    moves = {op.link_key[1]: op.patch.stage_id for op in updates(sides.run(world()))}
    assert moves == {"atwinta": "143", "kodix": "143"}


def test_plan_partner_change_for_a_removed_partner() -> None:
    sides = _created()
    link = sides.links["atwinta"]
    mapping = world()
    only_kodix = dataclasses.replace(mapping, partners={"kodix": mapping.partners["kodix"]})
    plan = plan_partner_change(
        "atwinta", partner_deal(sides), link, sides.agency, only_kodix, now=T0
    )
    assert isinstance(plan.operations[0], CloseLink)
    closed = plan.next_state
    again = plan_partner_change(
        "atwinta", partner_deal(sides), closed, sides.agency, only_kodix, now=T0
    )
    assert again.operations == () and not again.state_changed


def test_a_field_map_that_no_longer_resolves_parks_every_link_of_the_partner() -> None:
    sides = _created()
    gone = (Broken("Бюджет", "amoCRM field 'Бюджет' not found"),)
    mapping = world(broken_fields=gone)
    sides.agency = edit(sides.agency, sides.tick(), stage_id="C5:WORK")
    (park,) = _only(sides.run(mapping), Park)
    assert "'Бюджет'" in park.reason and "not found" in park.reason
    assert sides.links["atwinta"].partner_deal_id == partner_deal(sides).id
    new_deal = plan_agency_deal(agency_deal(id="77"), {}, {"atwinta": None}, mapping, now=T0)
    assert isinstance(new_deal[0].operations[0], Park)
    (resumed,) = updates(sides.run(world()))  # admin fixed mapping.yaml
    assert resumed.patch.stage_id == "102"
