"""Partner-registered leads over the engine's sandbox world (real sync path, MemoryCrm).

Worked figures: amo registers «Сайт для пекарни «Колос»» (300 000 RUB) in its pipeline
«Для агентства» at «Новый лид»; the agency deal is created once, stamped
``lead:amo:<id>``; the agency's fee is 50 000 RUB and the rule for leads amo brought is
10 % of the agency's fee, paid by the agency: 5 000.00 RUB accrue when the deal is won
(amo's own rule, 25 % of the amount paid by amo, would have been 75 000.00).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.crm import Unavailable
from bridge.kpi.report import build_report
from bridge.ledger import book
from bridge.ledger.entries import EntryKind
from bridge.mapping.compiled import (
    Commission,
    CommissionRule,
    CompiledMapping,
    FieldEnd,
    LeadsConfig,
    RuleKind,
    Side,
    Target,
)
from bridge.model import Company, Contact, Deal, LinkStatus, Money, Pipeline, Semantics, Stage
from bridge.store import leads, links
from bridge.store.db import Store
from bridge.store.leads import LeadStatus
from sync.cli.main import app
from sync.engine import Engine
from sync.plan.leads import lead_stamp
from sync.sources import poll
from tests.engine.world import World, make_world
from tests.reliability.invariants import Crms, check_invariants

FEE = "UF_CRM_FEE"
OVERLAP = dt.timedelta(seconds=30)
LEADS_PIPELINE = Pipeline(
    id="56",
    name="Для агентства",
    stages=(
        Stage("201", "Новый лид", "56", Semantics.OPEN, 0),
        Stage("202", "Отказ", "56", Semantics.LOST, 1),
    ),
)
LEAD_RULE = CommissionRule(
    RuleKind.PERCENT_OF_FEE,
    Decimal("0.10"),
    Side.AGENCY,
    "RUB",
    source_field=FieldEnd(Target.CUSTOM, "Гонорар агентства", FEE),
)


def with_leads(mapping: CompiledMapping) -> CompiledMapping:
    """amo passes leads from its pipeline «Для агентства», stage «Новый лид»; b24 passes
    deals of its own pipeline whose field «Передать агентству» is set."""
    amo = dataclasses.replace(
        mapping.partners["amo"],
        leads=LeadsConfig(
            agency_pipeline_id="7",
            agency_stage_id="C7:NEW",
            partner_pipeline_id="56",
            partner_stage_id="201",
            commission=Commission((LEAD_RULE,)),
        ),
    )
    b24 = dataclasses.replace(
        mapping.partners["b24"],
        leads=LeadsConfig(agency_pipeline_id="7", agency_stage_id="C7:NEW", field_id="UF_TO"),
    )
    return dataclasses.replace(mapping, partners={"amo": amo, "b24": b24})


def leads_world(db_url: str) -> World:
    world = make_world(db_url)
    world.amo.pipeline_list.append(LEADS_PIPELINE)
    world.mapping = with_leads(world.mapping)
    return world


def register_lead(
    world: World, *, phone: str = "+7 912 345-67-89", inn: str = "7707083893"
) -> Deal:
    """amo registers a lead for the agency in its CRM, with its client."""
    world.amo.contacts["pc1"] = Contact(
        "Ирина Лидова", phones=(phone,), emails=("irina@kolos.example",), id="pc1"
    )
    world.amo.companies["pco1"] = Company("ООО «Колос»", tax_id=inn, id="pco1")
    return world.amo.seed(
        title="Сайт для пекарни «Колос»",
        pipeline_id="56",
        stage_id="201",
        amount=Money(Decimal("300000"), "RUB"),
        contact_ids=("pc1",),
        company_id="pco1",
    )


def agency_leads(world: World, lead: Deal) -> list[Deal]:
    return [d for d in world.agency.deals.values() if d.stamp == lead_stamp("amo", lead.id)]


def invariants(world: World, store: Store, scenario: str) -> None:
    crms = Crms(world.agency, {"amo": world.amo, "b24": world.b24})
    check_invariants(crms, store, world.mapping, scenario=scenario).assert_ok()


def test_a_lead_reaches_the_agency_once_mirrors_both_ways_and_earns_ten_percent_of_the_fee(
    db_url: str,
) -> None:
    world = leads_world(db_url)
    lead = register_lead(world)
    engine = world.engine()
    report = engine.sync()
    assert report.verdicts.get("lead passed") == 1
    (made,) = agency_leads(world, lead)
    assert (made.pipeline_id, made.stage_id, made.title) == ("7", "C7:NEW", lead.title)
    assert made.amount == Money(Decimal("300000"), "RUB")
    assert made.fields["UF_CRM_PARTNER"] == ("opt-amo",)  # routed to the partner that brought it
    contact = world.agency.contacts[made.contact_ids[0]]
    assert (contact.name, contact.phones) == ("Ирина Лидова", ("+7 912 345-67-89",))
    assert made.company_id is not None
    assert world.agency.companies[made.company_id].tax_id == "7707083893"
    # The partner deal is stamped with the agency deal's id and moved into the pipeline
    # the bridge mirrors, at the stage the agency's «Новая» maps to.
    partner = world.amo.deals[lead.id]
    assert (partner.stamp, partner.pipeline_id, partner.stage_id) == (made.id, "55", "101")
    with world.store.transaction() as session:
        (state,) = links.states(session, [made.id])
        assert (state.partner_code, state.partner_deal_id) == ("amo", lead.id)
        assert leads.sourced(session, "amo", made.id)

    for _ in range(3):  # more passes: nothing new
        world.clock.advance(61)
        engine.sync()
    assert len(world.agency.deals) == 1 and len(world.amo.deals) == 1

    world.agency.user_edit(made.id, fields={**made.fields, FEE: "50000"})  # the agency's fee
    world.amo.user_edit(lead.id, stage_id="102")  # the partner works it …
    world.clock.advance(61)
    engine.sync()
    assert world.agency.deals[made.id].stage_id == "C7:WORK"  # … mirrored to the agency
    world.agency.user_edit(made.id, title="Сайт для пекарни «Колос» — редизайн")
    world.clock.advance(61)
    engine.sync()
    assert world.amo.deals[lead.id].title == "Сайт для пекарни «Колос» — редизайн"

    world.amo.user_edit(lead.id, stage_id="142")  # won
    world.clock.advance(61)
    engine.sync()
    assert world.agency.deals[made.id].stage_id == "C7:WON"
    with world.store.transaction() as session:
        entries = book.read(session, partner="amo", deal_id=made.id)
    assert [(e.kind, e.amount, e.payer) for e in entries] == [
        (EntryKind.ACCRUAL, Decimal("5000.00"), Side.AGENCY)
    ]
    invariants(world, world.store, "partner-registered lead")
    world.close()


def test_a_deleted_store_adopts_the_lead_by_its_stamp_instead_of_creating_it_again(
    tmp_path: Path,
) -> None:
    world = leads_world(f"sqlite:///{tmp_path / 'first.db'}")
    lead = register_lead(world)
    world.engine().sync()
    (made,) = agency_leads(world, lead)
    world.close()

    world.store = Store.open(f"sqlite:///{tmp_path / 'restored.db'}")  # the store is gone
    report = world.engine().sync()
    assert report.verdicts.get("lead adopted") == 1 and "lead passed" not in report.verdicts
    assert agency_leads(world, lead) == [world.agency.deals[made.id]]
    assert len(world.amo.deals) == 1  # and no second partner deal either
    with world.store.transaction() as session:
        (state,) = links.states(session, [made.id])
        assert (state.partner_deal_id, state.status) == (lead.id, LinkStatus.ACTIVE)
        assert leads.sourced(session, "amo", made.id)
    world.amo.user_edit(lead.id, stage_id="102")
    world.clock.advance(61)
    world.engine().sync()
    assert world.agency.deals[made.id].stage_id == "C7:WORK"  # mirrors as usual
    invariants(world, world.store, "lead after a deleted store")
    world.close()


def test_a_crash_before_the_partner_stamp_and_a_lost_store_still_make_one_agency_deal(
    tmp_path: Path,
) -> None:
    world = leads_world(f"sqlite:///{tmp_path / 'first.db'}")
    lead = register_lead(world)
    world.amo.faults.fail("update_deals", Unavailable("amoCRM is down", system="amo"))
    world.engine().sync()  # the agency deal exists; the partner deal is not stamped
    assert world.amo.deals[lead.id].stamp is None
    (made,) = agency_leads(world, lead)
    world.close()

    world.store = Store.open(f"sqlite:///{tmp_path / 'restored.db'}")
    world.engine().sync()
    assert agency_leads(world, lead) == [world.agency.deals[made.id]]  # adopted, not again
    assert world.amo.deals[lead.id].stamp == made.id  # the stamp is written now
    assert len(world.amo.deals) == 1
    invariants(world, world.store, "lead: crash before the partner stamp, store lost")
    world.close()


def test_another_process_store_that_never_lists_the_agency_deal_finds_it_by_stamp(
    tmp_path: Path,
) -> None:
    """A store whose agency cursor is already past the agency deal (another process's,
    which polled the agency after the deal was made): only the bulk stamp lookup at the
    agency, made before any create, can tell that the lead is already there."""
    world = leads_world(f"sqlite:///{tmp_path / 'first.db'}")
    lead = register_lead(world)
    world.amo.faults.fail("update_deals", Unavailable("amoCRM is down", system="amo"))
    world.engine().sync()  # agency deal made; the partner stamp failed
    (made,) = agency_leads(world, lead)
    world.close()

    world.store = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    world.clock.advance(5)
    poll.commit(world.store, poll.fetch(world.store, world.agency), world.clock(), OVERLAP)
    world.clock.advance(OVERLAP.total_seconds() * 3)
    calls = world.agency.calls["find_stamped"]
    report = world.engine(overlap=OVERLAP).sync()
    assert world.agency.calls["find_stamped"] == calls + 1  # one bulk lookup for the pass
    assert report.verdicts.get("lead adopted") == 1 and "lead passed" not in report.verdicts
    assert agency_leads(world, lead) == [world.agency.deals[made.id]]
    assert world.amo.deals[lead.id].stamp == made.id
    world.close()


def test_a_lost_create_answer_is_looked_up_by_stamp_at_once(db_url: str) -> None:
    world = leads_world(db_url)
    lead = register_lead(world)
    world.agency.faults.lose_response("create_deals")
    report = world.engine().sync()
    assert report.verdicts.get("lead passed") == 1
    assert len(agency_leads(world, lead)) == 1
    world.clock.advance(61)
    world.engine().sync()
    assert len(agency_leads(world, lead)) == 1
    world.close()


def _hand_over_to_b24(world: World, engine: Engine) -> Deal:
    """The agency hands «Клиент №1» (+7 900 000-00-00, ИНН 7707083893) to b24."""
    deal = world.agency_deal(1, ("b24",))
    world.agency.companies["ac-co"] = Company("ООО «Колос»", tax_id="7707083893", id="ac-co")
    world.agency.user_edit(deal.id, company_id="ac-co")
    engine.sync()
    return deal


def test_a_lead_whose_phone_is_already_the_agencys_is_held_with_the_reason(db_url: str) -> None:
    world = leads_world(db_url)
    engine = world.engine()
    earlier = _hand_over_to_b24(world, engine)
    lead = register_lead(world, phone="8 (900) 000-00-00", inn="500100732259")
    world.clock.advance(61)
    report = engine.sync()
    assert report.verdicts.get("lead held") == 1
    assert agency_leads(world, lead) == []  # not created
    with world.store.transaction() as session:
        (held,) = leads.everything(session, "amo")
    assert held.status is LeadStatus.HELD and held.reason is not None
    assert f"already the agency's — agency deal {earlier.id}" in held.reason
    assert "same phone +79000000000" in held.reason
    assert f"bridge leads release amo {lead.id}" in held.reason
    world.amo.user_edit(lead.id, title="Сайт для пекарни «Колос» (срочно)")
    world.clock.advance(61)
    assert "lead held" not in engine.sync().verdicts  # held once, and stays held
    assert agency_leads(world, lead) == []

    with world.store.transaction() as session:
        assert leads.release(session, "amo", lead.id, world.clock())
    world.clock.advance(61)  # the partner deal does not change: it is read by its id
    assert engine.sync().verdicts.get("lead passed") == 1  # the manager let it through
    assert len(agency_leads(world, lead)) == 1
    kpis = {k.partner_code: k for k in build_report(world.store, world.clock()).kpis}
    assert (kpis["amo"].handed, kpis["amo"].leads_received, kpis["amo"].leads_passed) == (1, 1, 0)
    assert (kpis["b24"].handed, kpis["b24"].leads_received, kpis["b24"].leads_passed) == (1, 0, 1)
    world.close()


def test_a_lead_whose_inn_is_already_the_agencys_is_held(db_url: str) -> None:
    world = leads_world(db_url)
    engine = world.engine()
    earlier = _hand_over_to_b24(world, engine)
    lead = register_lead(world, phone="+7 495 111-22-33", inn="7707083893")
    world.clock.advance(61)
    engine.sync()
    assert agency_leads(world, lead) == []
    with world.store.transaction() as session:
        (held,) = leads.everything(session, "amo")
    assert held.reason is not None and f"agency deal {earlier.id}" in held.reason
    assert "same inn 7707083893" in held.reason
    world.close()


def test_a_lead_by_field_stays_in_the_partner_pipeline(db_url: str) -> None:
    world = leads_world(db_url)
    plain = world.b24.seed(
        title="Свой проект", pipeline_id="0", stage_id="NEW", amount=None, fields={}
    )
    marked = world.b24.seed(
        title="Лендинг для «Вектора»",
        pipeline_id="0",
        stage_id="NEW",
        amount=Money(Decimal("90000"), "RUB"),
        fields={"UF_TO": "Y"},
    )
    world.engine().sync()
    made = [d for d in world.agency.deals.values() if d.stamp == lead_stamp("b24", marked.id)]
    assert len(made) == 1 and len(world.agency.deals) == 1  # the unmarked deal stays the partner's
    partner = world.b24.deals[marked.id]
    assert (partner.stamp, partner.pipeline_id, partner.stage_id) == (made[0].id, "0", "NEW")
    assert world.b24.deals[plain.id].stamp is None
    world.close()


def test_the_checker_counts_agency_side_duplicates(tmp_path: Path) -> None:
    world = make_world(f"sqlite:///{tmp_path / 'bridge.db'}")
    world.mapping = with_leads(world.mapping)
    for _ in range(2):  # what a second process without the stamp lookup would have done
        world.agency.seed(
            title="Лид",
            pipeline_id="7",
            stage_id="C7:NEW",
            amount=None,
            stamp=lead_stamp("amo", "10001"),
        )
    crms = Crms(world.agency, {"amo": world.amo, "b24": world.b24})
    report = check_invariants(crms, world.store, world.mapping, scenario="dup", record=False)
    problems = report.violations["2 no duplicate"]
    assert problems == ["agency: 2 agency deals carry stamp lead:amo:10001 (1, 2)"]
    assert report.checked["stamped agency deals"] == 2
    world.close()


def test_status_deal_and_leads_commands_show_the_lead_sourced_by_the_partner(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    world = leads_world(url)
    lead = register_lead(world)
    world.engine().sync()
    (made,) = agency_leads(world, lead)
    world.close()
    runner = CliRunner(env={"COLUMNS": "200"})

    shown = runner.invoke(app, ["deal", made.id, "--db-url", url])
    assert shown.exit_code == 0, shown.output
    assert "sourced by" in shown.output and "partner (a lead it registered)" in shown.output
    as_json = json.loads(
        runner.invoke(app, ["deal", made.id, "--db-url", url, "--format", "json"]).output
    )
    assert [link["sourced_by"] for link in as_json["links"]] == ["partner"]

    listed = runner.invoke(app, ["leads", "--db-url", url])
    assert listed.exit_code == 0, listed.output
    assert f"amo deal {lead.id}: passed → agency deal {made.id}" in listed.output
    rows = json.loads(runner.invoke(app, ["leads", "--db-url", url, "--format", "json"]).output)
    assert [(r["partner_code"], r["status"], r["agency_deal_id"]) for r in rows] == [
        ("amo", "passed", made.id)
    ]
    status = runner.invoke(app, ["status", "--db-url", url])
    assert "partner leads (sourced by partner): amo 1 passed" in status.output

    refused = runner.invoke(app, ["leads", "release", "amo", lead.id, "--db-url", url])
    assert refused.exit_code == 1 and f"lead {lead.id} of amo is not held" in refused.output


def _b24_lead(world: World, phone: str) -> Deal:
    world.b24.contacts["bc1"] = Contact("Ирина Лидова", phones=(phone,), id="bc1")
    return world.b24.seed(
        title="Сайт для пекарни (через b24)",
        pipeline_id="0",
        stage_id="NEW",
        amount=None,
        contact_ids=("bc1",),
        fields={"UF_TO": "Y"},
    )


def test_a_client_another_partner_brought_is_held_for_the_second_partner(db_url: str) -> None:
    world = leads_world(db_url)
    engine = world.engine()
    first = register_lead(world, phone="+7 912 345-67-89")
    engine.sync()
    (made,) = agency_leads(world, first)
    second = _b24_lead(world, "89123456789")
    world.clock.advance(61)
    report = engine.sync()
    assert report.verdicts.get("lead held") == 1
    assert [d.stamp for d in world.agency.deals.values()] == [lead_stamp("amo", first.id)]
    with world.store.transaction() as session:
        (held,) = leads.everything(session, "b24")
    assert held.partner_deal_id == second.id and held.reason is not None
    assert f"agency deal {made.id} (with Партнёр amo since" in held.reason
    world.close()


def test_two_partners_registering_one_client_in_one_pass_pass_it_once(db_url: str) -> None:
    world = leads_world(db_url)
    first = register_lead(world, phone="+7 912 345-67-89")
    second = _b24_lead(world, "+7 (912) 345-67-89")
    report = world.engine().sync()
    assert (report.verdicts.get("lead passed"), report.verdicts.get("lead held")) == (1, 1)
    # Partners' lanes take their leads one after another (under the hand-over lock), in
    # no fixed order: whichever comes first passes the client, the other is held with a
    # reason naming it — one agency deal for the client either way.
    stamps = {lead_stamp("amo", first.id), lead_stamp("b24", second.id)}
    passed = [d for d in world.agency.deals.values() if d.stamp in stamps]
    assert len(passed) == 1
    with world.store.transaction() as session:
        outcomes = [*leads.everything(session, "amo"), *leads.everything(session, "b24")]
    (held,) = [lead for lead in outcomes if lead.status is LeadStatus.HELD]
    other = "Партнёр b24" if held.partner_code == "amo" else "Партнёр amo"
    assert held.reason is not None and held.reason.startswith("held:") and other in held.reason
    world.close()


def test_two_agency_deals_with_one_lead_stamp_keep_the_oldest_and_delete_nothing(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    world = leads_world(db_url)
    partner = world.amo.seed(
        title="Лид", pipeline_id="55", stage_id="101", amount=None, stamp="placeholder"
    )
    stamp = lead_stamp("amo", partner.id)
    routed = {"UF_CRM_PARTNER": ("opt-amo",)}
    older, younger = (
        world.agency.seed(
            title="Лид", pipeline_id="7", stage_id="C7:NEW", amount=None, stamp=stamp, fields=routed
        )
        for _ in range(2)
    )
    world.amo.user_edit(partner.id, stamp=older.id)  # the earlier version stamped it
    caplog.set_level(logging.WARNING, logger="sync.sources.leads")
    world.engine().sync()
    with world.store.transaction() as session:
        states = links.states(session, [older.id, younger.id])
    assert [(s.agency_deal_id, s.partner_deal_id) for s in states if s.partner_deal_id] == [
        (older.id, partner.id)
    ]
    assert len(world.agency.deals) == 2 and len(world.amo.deals) == 1  # nothing made or deleted
    assert any("lead.duplicates" in r.getMessage() for r in caplog.records)
    world.close()
