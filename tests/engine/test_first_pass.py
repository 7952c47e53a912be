from __future__ import annotations

import dataclasses
from decimal import Decimal

from bridge.model import LinkStatus, Money
from bridge.store import audit, links
from tests.engine.world import World


def test_routed_deals_appear_once_in_the_right_partner_crm(world: World) -> None:
    deals = [world.agency_deal(n, ("amo",) if n % 2 else ("b24",)) for n in range(1, 21)]
    fan_out = world.agency_deal(99, ("amo", "b24"))
    world.agency.seed(title="не для партнёров", pipeline_id="7", stage_id="C7:NEW", amount=None)

    report = world.engine().sync()

    assert report.errors == {}
    assert len(world.amo.deals) == 11 and len(world.b24.deals) == 11
    by_stamp = {d.stamp: d for d in [*world.amo.deals.values(), *world.b24.deals.values()]}
    for deal in [*deals, fan_out]:
        routing = deal.fields["UF_CRM_PARTNER"]
        assert isinstance(routing, tuple)
        target = world.amo if "opt-amo" in routing else world.b24
        (created,) = [d for d in target.deals.values() if d.stamp == deal.id]
        assert created.title == deal.title
        assert created.amount == deal.amount
        assert created.stage_id == ("101" if target is world.amo else "NEW")
        (contact_id,) = created.contact_ids
        assert target.contacts[contact_id].name == f"Клиент №{deal.title.split()[1]}"
    assert by_stamp[fan_out.id].stamp == fan_out.id
    with world.store.transaction() as session:
        rows = links.by_agency_ids(session, [d.id for d in [*deals, fan_out]])
    assert len(rows) == 22
    assert {r.status for r in rows} == {LinkStatus.ACTIVE.value}
    assert all(r.partner_deal_id for r in rows)


def test_second_pass_without_changes_writes_nothing(world: World) -> None:
    for n in range(1, 31):
        world.agency_deal(n, ("amo", "b24"))
    engine = world.engine()
    engine.sync()
    world.reset_counts()
    engine.sync()
    assert world.writes() == 0
    world.reset_counts()
    engine.sync()
    assert world.writes() == 0
    # a quiet pass only lists: one page per CRM
    assert {crm: dict(c.calls) for crm, c in [("a", world.agency), ("m", world.amo)]} == {
        "a": {"list_changed": 1},
        "m": {"list_changed": 1},
    }


def test_partner_stage_and_amount_reach_the_agency(world: World) -> None:
    deal = world.agency_deal(1, ("amo",))
    engine = world.engine()
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    world.amo.user_edit(partner_deal.id, stage_id="102", amount=Money(Decimal("5000.00"), "RUB"))
    engine.sync()
    mirrored = world.agency.deals[deal.id]
    assert mirrored.stage_id == "C7:WORK"
    with world.store.transaction() as session:
        trail = audit.trail(session, deal.id)
    (stage,) = [r for r in trail if r.action == "synced" and r.field == "@stage"][-1:]
    assert stage.changed_by == "partner" and "C7:WORK" in (stage.new_value or "")
    assert mirrored.amount == Money(Decimal("5000.00"), "RUB")
    world.amo.user_edit(partner_deal.id, stage_id="142")
    engine.sync()
    assert world.agency.deals[deal.id].stage_id == "C7:WON"


def test_the_client_company_travels_with_a_new_partner_deal(world: World) -> None:
    from bridge.model import Company

    deal = world.agency_deal(1, ("amo",))
    world.agency.companies["firm1"] = Company(name="ООО «Вектор»", id="firm1")
    world.agency.deals[deal.id] = dataclasses.replace(deal, company_id="firm1")

    world.engine().sync()

    (created,) = world.amo.deals.values()
    assert created.company_id is not None
    assert world.amo.companies[created.company_id].name == "ООО «Вектор»"
