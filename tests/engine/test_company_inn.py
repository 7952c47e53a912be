"""Issue 17 case 8: the company's ИНН, read from Bitrix24 requisites and written to the
partner's company, makes a same-company hand-over with different phones a conflict.

Through the real sync path: the engine over HTTP against the example sandbox world
(agency Bitrix24, ``alfa`` on amoCRM, ``beta`` on Bitrix24).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.model import LinkStatus
from bridge.store import links
from tests.engine.http_world import HttpWorld, http_world

INN = "7707083893"  # a valid 10-digit ИНН (company → the "Организация" template)
SOLE_TRADER_INN = "500100732259"  # a valid 12-digit ИНН (individual → "ИП")


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[HttpWorld]:
    with http_world(tmp_path) as built:
        partners = {
            code: dataclasses.replace(
                p, policies=dataclasses.replace(p.policies, hold_on_channel_conflict=True)
            )
            for code, p in built.mapping.partners.items()
        }
        built.mapping = dataclasses.replace(built.mapping, partners=partners)
        yield built


def _agency_deal(hw: HttpWorld, n: int, partner: str, company: str, inn: str | None) -> str:
    """A manager's deal: a new client card and company card, with its own phones."""
    portal = hw.world.agency.portal
    with portal.lock:
        company_id = portal.companies.add(
            {"TITLE": company, "PHONE": [{"VALUE": f"+7 495 000-00-{n:02d}"}]}, user_id=1
        )
        if inn is not None:
            requisite = {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company_id, "PRESET_ID": 1}
            portal.requisites.add({**requisite, "NAME": "Организация", "RQ_INN": inn}, user_id=1)
        contact_id = portal.contacts.add(
            {
                "NAME": f"Клиент {n}",
                "PHONE": [{"VALUE": f"+7 916 000-00-{n:02d}"}],
                "EMAIL": [{"VALUE": f"client{n}@example.ru"}],
            },
            user_id=1,
        )
    fields: dict[str, Any] = {
        "TITLE": f"Сайт для {company}",
        "CATEGORY_ID": int(hw.mapping.agency.pipeline_id),
        "STAGE_ID": hw.world.stage("Передана партнёру"),
        "OPPORTUNITY": "150000",
        "CURRENCY_ID": "RUB",
        "CONTACT_ID": contact_id,
        "COMPANY_ID": company_id,
        "UF_CRM_PARTNER": [hw.world.routing(partner)],
    }
    return hw.world.agency.add_deal(fields)


def _link(hw: HttpWorld, deal_id: str, code: str) -> tuple[str, str | None, str | None]:
    with hw.store.transaction() as session:
        (row,) = [r for r in links.by_agency_ids(session, [deal_id]) if r.partner_code == code]
        return row.status, row.partner_deal_id, row.park_reason


def test_same_inn_with_other_phones_is_held_and_the_inn_reaches_the_partner(
    hw: HttpWorld,
) -> None:
    first = _agency_deal(hw, 1, "alfa", "ООО «Горизонт»", INN)
    engine = hw.engine()
    assert engine.sync().errors == {}

    # The ИНН went with the company to the amoCRM partner (its company field "ИНН").
    status, lead_id, _ = _link(hw, first, "alfa")
    assert status == LinkStatus.ACTIVE.value and lead_id
    alfa = hw.crms["alfa"]
    lead = alfa.fetch_deals([lead_id])[lead_id]
    assert lead.company_id is not None
    company = alfa.fetch_companies([lead.company_id])[lead.company_id]
    assert (company.name, company.tax_id) == ("ООО «Горизонт»", INN)

    # Another manager creates a second card for the same firm: other phones, other
    # e-mail, same ИНН in its requisites — and routes it to beta.
    second = _agency_deal(hw, 2, "beta", "Горизонт (филиал)", INN)
    hw.world.advance(60)
    assert engine.sync().errors == {}

    status, partner_deal, reason = _link(hw, second, "beta")
    assert (status, partner_deal) == (LinkStatus.PARKED.value, None)
    assert reason is not None
    assert f"ИНН {INN} (deal {first}, alfa," in reason, reason
    assert "phone" not in reason and "e-mail" not in reason  # only the ИНН matched
    assert f"bridge channels confirm {second} beta" in reason
    assert not [d for d in hw.world.beta.deal_ids() if _stamped(hw, d, second)]
    (comment,) = hw.crms["agency"].list_notes(second)
    assert f"ИНН {INN}" in comment.text and first in comment.text


def test_a_bitrix24_partner_gets_the_inn_as_a_requisite_of_the_right_template(
    hw: HttpWorld,
) -> None:
    deal = _agency_deal(hw, 3, "beta", "ИП Соколов", SOLE_TRADER_INN)
    assert hw.engine().sync().errors == {}

    status, partner_deal, _ = _link(hw, deal, "beta")
    assert status == LinkStatus.ACTIVE.value and partner_deal
    beta = hw.crms["beta"]
    company_id = beta.fetch_deals([partner_deal])[partner_deal].company_id
    assert company_id is not None
    assert beta.fetch_companies([company_id])[company_id].tax_id == SOLE_TRADER_INN
    portal = hw.world.beta.portal
    with portal.lock:
        (row,) = [r for r in portal.requisites.rows.values() if r["ENTITY_ID"] == int(company_id)]
        preset = portal.requisites.presets[row["PRESET_ID"]]
    assert (row["ENTITY_TYPE_ID"], row["RQ_INN"], preset["NAME"]) == (4, SOLE_TRADER_INN, "ИП")


def _stamped(hw: HttpWorld, deal_id: str, stamp: str) -> bool:
    found = hw.world.beta.get_deal(deal_id) or {}
    return str(found.get("ORIGIN_ID") or "") == stamp
