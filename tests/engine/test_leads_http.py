"""Partner-registered leads over real HTTP: the example world (amoCRM partner «alfa»,
Bitrix24 agency), with alfa's ``leads:`` from the shipped mapping.yaml.

Worked figures: alfa registers «Сайт для пекарни «Колос»» (300 000 RUB) in its pipeline
«Собственные продажи» at «Принимают решение»; the agency deal appears once in
«Партнёрские сделки» at «Новая», stamped ``lead:alfa:<lead id>``; the agency's fee is
50 000 RUB and alfa's rule for leads it brought is 10 % of the fee, paid by the agency:
5 000.00 RUB accrue when the deal is won (alfa's own rule — 40 % of the client's
payments, paid by alfa — does not apply to it).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.ledger import book
from bridge.ledger.entries import EntryKind
from bridge.mapping.compiled import Side
from bridge.model import Money
from bridge.store import leads
from bridge.store.db import Store
from tests.engine.http_world import HttpWorld, http_world


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[HttpWorld]:
    with http_world(tmp_path) as built:
        yield built


def _register(hw: HttpWorld) -> int:
    alfa = hw.world.alfa
    own = alfa.pipeline_id("Собственные продажи")
    phone = {"field_code": "PHONE", "values": [{"value": "+7 912 345-67-89", "enum_code": "WORK"}]}
    contact = alfa.add_contact({"name": "Ирина Лидова", "custom_fields_values": [phone]})
    return alfa.add_lead(
        {
            "name": "Сайт для пекарни «Колос»",
            "price": 300000,
            "pipeline_id": own,
            "status_id": alfa.status_id(own, "Принимают решение"),
            "_embedded": {"contacts": [{"id": contact}]},
        }
    )


def test_an_amocrm_lead_reaches_the_bitrix24_agency_once_and_earns_ten_percent_of_the_fee(
    hw: HttpWorld,
) -> None:
    lead = _register(hw)
    agency, alfa = hw.crms["agency"], hw.crms["alfa"]
    engine = hw.engine()
    report = engine.sync()
    assert report.errors == {}
    assert report.verdicts.get("lead passed") == 1
    stamp = f"lead:alfa:{lead}"
    (made,) = agency.find_stamped([stamp])[stamp]
    assert (made.stage_id, made.title) == (hw.world.stage("Новая"), "Сайт для пекарни «Колос»")
    assert made.amount == Money(Decimal(300000), "RUB")
    (contact,) = agency.fetch_contacts(list(made.contact_ids)).values()
    assert contact.name == "Ирина Лидова"
    partner = alfa.fetch_deals([str(lead)])[str(lead)]
    assert partner.stamp == made.id  # stamped both ways …
    assert partner.pipeline_id == str(hw.world.alfa.pipeline_id("Партнёрские лиды"))  # … moved

    for _ in range(2):
        hw.world.advance(60)
        engine.sync()
    assert list(agency.find_stamped([stamp])[stamp]) == [agency.fetch_deals([made.id])[made.id]]

    hw.world.agency.update_deal(made.id, {"UF_CRM_AGENCY_FEE": "50000|RUB"})
    hw.world.alfa.update_lead(lead, {"status_id": 142})  # alfa wins the deal
    hw.world.advance(60)
    engine.sync()
    hw.world.advance(60)
    engine.sync()
    assert agency.fetch_deals([made.id])[made.id].stage_id == hw.world.stage("Сделка успешна")
    with hw.store.transaction() as session:
        entries = book.read(session, partner="alfa", deal_id=made.id)
        assert leads.sourced(session, "alfa", made.id)
    assert [(e.kind, e.amount, e.payer) for e in entries] == [
        (EntryKind.ACCRUAL, Decimal("5000.00"), Side.AGENCY)
    ]


def test_after_the_store_is_deleted_the_lead_is_adopted_by_its_stamp_not_made_twice(
    hw: HttpWorld, tmp_path: Path
) -> None:
    lead = _register(hw)
    hw.engine().sync()
    stamp = f"lead:alfa:{lead}"
    (made,) = hw.crms["agency"].find_stamped([stamp])[stamp]
    agency_before = len(hw.world.agency.portal.deals.rows)
    alfa_before = len(hw.world.alfa.lead_ids())
    hw.store.close()
    hw.store = Store.open(f"sqlite:///{tmp_path / 'empty.db'}")  # bridge.db deleted
    hw.world.advance(60)
    report = hw.engine().sync()
    assert report.verdicts.get("lead adopted") == 1 and "lead passed" not in report.verdicts
    assert [d.id for d in hw.crms["agency"].find_stamped([stamp])[stamp]] == [made.id]
    assert len(hw.world.agency.portal.deals.rows) == agency_before  # no agency duplicate
    assert len(hw.world.alfa.lead_ids()) == alfa_before  # no partner duplicate
    hw.world.alfa.update_lead(lead, {"price": 320000})  # mirrors as usual afterwards
    hw.world.advance(60)
    hw.engine().sync()
    assert hw.crms["agency"].fetch_deals([made.id])[made.id].amount == Money(Decimal(320000), "RUB")
