"""CRM semantics: the two deal APIs, pipelines, custom fields, contacts, seeds."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.sandbox.bitrix.fields import to_camel
from bridge.sandbox.bitrix.portal import BitrixSandbox
from bridge.sandbox.emulator import SimClock
from tests.sandbox.conftest import BitrixApi
from tests.sandbox.rows import deal_row

# ---- deals through both APIs -------------------------------------------------------------


def test_legacy_deal_shape(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    contact = bitrix_api.result("crm.contact.add", {"fields": {"NAME": "Ольга"}})
    deal_id = bitrix_api.result(
        "crm.deal.add",
        {"fields": {"TITLE": "Сайт", "OPPORTUNITY": 1500.5, "CONTACT_IDS": [contact]}},
    )
    deal = bitrix_api.result("crm.deal.get", {"id": deal_id})
    assert deal["ID"] == str(deal_id)
    assert deal["OPPORTUNITY"] == "1500.50"
    assert deal["CATEGORY_ID"] == "0"
    assert deal["STAGE_ID"] == "NEW"
    assert (deal["STAGE_SEMANTIC_ID"], deal["CLOSED"], deal["OPENED"]) == ("P", "N", "Y")
    assert deal["COMPANY_ID"] is None
    assert deal["CONTACT_ID"] == str(contact)
    assert "CONTACT_IDS" not in deal
    assert deal["CURRENCY_ID"] == "RUB"


def test_item_shape_and_original_uf_names(
    bitrix_demo: BitrixSandbox, bitrix_demo_api: BitrixApi
) -> None:
    deal_id = bitrix_demo.add_deal({"TITLE": "Бот", "UF_CRM_AGENCY_FEE": "300|RUB"})
    item = bitrix_demo_api.result("crm.item.get", {"entityTypeId": 2, "id": deal_id})["item"]
    assert item["id"] == int(deal_id)
    assert item["companyId"] == 0
    assert item["contactIds"] == []
    assert item["opportunity"] == 0
    assert item["ufCrmAgencyFee"] == "300|RUB"
    assert item["ufCrmPartner"] == []
    original = bitrix_demo_api.result(
        "crm.item.get", {"entityTypeId": 2, "id": deal_id, "useOriginalUfNames": "Y"}
    )["item"]
    assert original["UF_CRM_AGENCY_FEE"] == "300|RUB"
    assert "ufCrmAgencyFee" not in original
    missing = bitrix_demo_api("crm.item.get", {"entityTypeId": 2, "id": 99999})
    assert missing.status_code == 400
    assert missing.json()["error"] == "NOT_FOUND"


def test_item_add_and_update_in_camel_case(bitrix_demo_api: BitrixApi) -> None:
    fields = {"title": "Редизайн", "opportunity": 250000, "ufCrmBrief": "Нужен новый логотип"}
    item = bitrix_demo_api.result("crm.item.add", {"entityTypeId": 2, "fields": fields})["item"]
    assert (item["title"], item["opportunity"], item["ufCrmBrief"]) == (
        "Редизайн",
        250000,
        "Нужен новый логотип",
    )
    legacy = bitrix_demo_api.result("crm.deal.get", {"id": item["id"]})
    assert legacy["OPPORTUNITY"] == "250000.00"
    assert legacy["UF_CRM_BRIEF"] == "Нужен новый логотип"


def test_legacy_update_cannot_change_pipeline(
    bitrix_demo: BitrixSandbox, bitrix_demo_api: BitrixApi
) -> None:
    deal_id = bitrix_demo.add_deal({"TITLE": "Сайт", "CATEGORY_ID": 0})
    bitrix_demo_api.result(
        "crm.deal.update", {"id": deal_id, "fields": {"STAGE_ID": "C1:EXECUTING", "CATEGORY_ID": 1}}
    )
    deal = bitrix_demo.get_deal(deal_id)
    assert deal is not None
    assert (deal["CATEGORY_ID"], deal["STAGE_ID"]) == ("0", "NEW")
    bitrix_demo_api.result("crm.deal.update", {"id": deal_id, "fields": {"STAGE_ID": "WON"}})
    deal = bitrix_demo.get_deal(deal_id)
    assert deal is not None
    assert (deal["STAGE_ID"], deal["STAGE_SEMANTIC_ID"], deal["CLOSED"]) == ("WON", "S", "Y")


def test_item_update_moves_between_pipelines(
    bitrix_demo: BitrixSandbox, bitrix_demo_api: BitrixApi
) -> None:
    deal_id = bitrix_demo.add_deal({"TITLE": "Сайт"})
    params = {
        "entityTypeId": 2,
        "id": deal_id,
        "fields": {"categoryId": 1, "stageId": "C1:EXECUTING"},
    }
    item = bitrix_demo_api.result("crm.item.update", params)["item"]
    assert (item["categoryId"], item["stageId"]) == (1, "C1:EXECUTING")
    params = {"entityTypeId": 2, "id": deal_id, "fields": {"categoryId": 0}}
    item = bitrix_demo_api.result("crm.item.update", params)["item"]
    assert (item["categoryId"], item["stageId"]) == (0, "NEW")


def test_item_update_without_changes_does_not_save(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi
) -> None:
    bitrix.clock.freeze()
    deal_id = bitrix.add_deal({"TITLE": "Сайт"})
    before = deal_row(bitrix, deal_id)["DATE_MODIFY"]
    bitrix.clock.advance(60)
    params = {"entityTypeId": 2, "id": deal_id, "fields": {"title": "Сайт"}}
    assert bitrix_api.result("crm.item.update", params)["item"]["updatedTime"] == before
    bitrix_api.result("crm.deal.update", {"id": deal_id, "fields": {"TITLE": "Сайт"}})
    assert deal_row(bitrix, deal_id)["DATE_MODIFY"] != before


def test_legacy_errors(bitrix_api: BitrixApi) -> None:
    assert bitrix_api("crm.deal.get", {"id": 5}).json() == {
        "error": "",
        "error_description": "Not found",
    }
    bad_id = bitrix_api("crm.deal.update", {"id": "x", "fields": {}})
    assert bad_id.json()["error_description"] == "ID is not defined or invalid."
    no_fields = bitrix_api("crm.deal.add", {"fields": "TITLE=x"})
    assert no_fields.json()["error_description"] == "Parameter 'fields' must be array."


def test_origin_fields_link_external_keys(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    fields = {"TITLE": "Из amoCRM", "ORIGINATOR_ID": "amocrm:partner", "ORIGIN_ID": "31415"}
    deal_id = bitrix_api.result("crm.deal.add", {"fields": fields})
    found = bitrix_api.result(
        "crm.deal.list", {"filter": {"ORIGINATOR_ID": "amocrm:partner", "ORIGIN_ID": "31415"}}
    )
    assert [row["ID"] for row in found] == [str(deal_id)]


# ---- custom fields ------------------------------------------------------------------------


def test_money_and_enumeration_values(
    bitrix_demo: BitrixSandbox, bitrix_demo_api: BitrixApi
) -> None:
    partner = next(
        f
        for f in bitrix_demo_api.result("crm.deal.userfield.list")
        if f["FIELD_NAME"] == "UF_CRM_PARTNER"
    )
    options = {o["VALUE"]: int(o["ID"]) for o in partner["LIST"]}
    assert list(options) == ["Атвинта", "Веб-Студия Альфа", "Digital Бета"]
    assert partner["MULTIPLE"] == "Y"
    fields = {
        "TITLE": "Сайт",
        "UF_CRM_PARTNER": [options["Атвинта"], 999999],
        "UF_CRM_AGENCY_FEE": "15000.50",
        "UF_CRM_PAID": "300|RUB",
    }
    deal_id = bitrix_demo_api.result("crm.deal.add", {"fields": fields})
    deal = bitrix_demo_api.result("crm.deal.get", {"id": deal_id})
    assert deal["UF_CRM_PARTNER"] == [options["Атвинта"]]  # unknown option ids are dropped
    assert deal["UF_CRM_AGENCY_FEE"] == "15000.50|RUB"  # the portal currency is appended
    assert deal["UF_CRM_PAID"] == "300|RUB"
    bitrix_demo_api.result("crm.deal.update", {"id": deal_id, "fields": {"UF_CRM_PAID": ""}})
    assert bitrix_demo_api.result("crm.deal.get", {"id": deal_id})["UF_CRM_PAID"] is None


def test_userfield_add_and_describe(bitrix_api: BitrixApi) -> None:
    new_id = bitrix_api.result(
        "crm.deal.userfield.add",
        {"fields": {"FIELD_NAME": "stage_note", "USER_TYPE_ID": "boolean", "LABEL": "Флаг"}},
    )
    assert isinstance(new_id, int)
    fields = bitrix_api.result("crm.deal.fields")
    assert fields["UF_CRM_STAGE_NOTE"]["type"] == "boolean"
    assert fields["UF_CRM_STAGE_NOTE"]["formLabel"] == "Флаг"
    again = bitrix_api(
        "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "STAGE_NOTE", "USER_TYPE_ID": "string"}}
    )
    assert again.status_code == 400
    deal_id = bitrix_api.result("crm.deal.add", {"fields": {"UF_CRM_STAGE_NOTE": "Y"}})
    assert bitrix_api.result("crm.deal.get", {"id": deal_id})["UF_CRM_STAGE_NOTE"] == "1"
    item = bitrix_api.result("crm.item.get", {"entityTypeId": 2, "id": deal_id})["item"]
    assert item["ufCrmStageNote"] == "Y"
    listed = bitrix_api.result(
        "crm.deal.userfield.list", {"filter": {"FIELD_NAME": "UF_CRM_STAGE_NOTE"}}
    )
    assert [f["ID"] for f in listed] == [str(new_id)]
    assert "EDIT_FORM_LABEL" not in listed[0]  # labels only with filter[LANG]


def test_enumeration_options_can_be_added(bitrix_demo_api: BitrixApi) -> None:
    partner = bitrix_demo_api.result(
        "crm.deal.userfield.list", {"filter": {"FIELD_NAME": "UF_CRM_PARTNER"}}
    )[0]
    update = {"id": partner["ID"], "fields": {"LIST": [{"VALUE": "Новый партнёр"}]}}
    assert bitrix_demo_api.result("crm.deal.userfield.update", update) is True
    items = bitrix_demo_api.result("crm.deal.fields")["UF_CRM_PARTNER"]["items"]
    assert [i["VALUE"] for i in items][-1] == "Новый партнёр"


# ---- pipelines and stages ------------------------------------------------------------------


def _stages(api: BitrixApi, entity: str) -> list[dict[str, Any]]:
    return list(api.result("crm.status.list", {"filter": {"ENTITY_ID": entity}}))


def test_demo_pipelines(bitrix_demo_api: BitrixApi) -> None:
    categories = bitrix_demo_api.result("crm.category.list", {"entityTypeId": 2})["categories"]
    names = {c["id"]: (c["name"], c["isDefault"]) for c in categories}
    assert names == {0: ("Общая", "Y"), 1: ("Партнёрские сделки", "N")}
    stages = _stages(bitrix_demo_api, "DEAL_STAGE_1")
    assert [(s["STATUS_ID"], s["NAME"], s["SEMANTICS"]) for s in stages] == [
        ("C1:NEW", "Новая", None),
        ("C1:PREPARATION", "Передана партнёру", None),
        ("C1:EXECUTING", "В работе у партнёра", None),
        ("C1:FINAL_INVOICE", "Договор подписан", None),
        ("C1:WON", "Сделка успешна", "S"),
        ("C1:LOSE", "Сделка провалена", "F"),
    ]
    assert all(s["CATEGORY_ID"] == "1" for s in stages)
    assert [s["STATUS_ID"] for s in _stages(bitrix_demo_api, "DEAL_STAGE")][:2] == [
        "NEW",
        "PREPARATION",
    ]
    legacy = bitrix_demo_api.result("crm.dealcategory.stage.list", {"id": 1})
    assert [s["STATUS_ID"] for s in legacy] == [s["STATUS_ID"] for s in stages]


def test_long_stage_codes_are_cut_at_21_characters(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi
) -> None:
    for n in range(10):
        bitrix.add_category(f"Воронка {n}")
    ids = [s["STATUS_ID"] for s in _stages(bitrix_api, "DEAL_STAGE_10")]
    assert "C10:PREPAYMENT_INVOIC" in ids
    assert "C9:PREPAYMENT_INVOICE" in [s["STATUS_ID"] for s in _stages(bitrix_api, "DEAL_STAGE_9")]


def test_stage_edits_show_up_in_the_api(
    bitrix_demo: BitrixSandbox, bitrix_demo_api: BitrixApi
) -> None:
    new = bitrix_demo.add_stage(1, "Ждём оплату")
    assert new.startswith("C1:UC_")
    names = [s["NAME"] for s in _stages(bitrix_demo_api, "DEAL_STAGE_1")]
    assert names.index("Ждём оплату") < names.index("Сделка успешна")
    bitrix_demo.rename_stage("C1:PREPARATION", "У партнёра")
    assert "У партнёра" in [s["NAME"] for s in _stages(bitrix_demo_api, "DEAL_STAGE_1")]
    deal_id = bitrix_demo.add_deal({"TITLE": "Сайт", "STAGE_ID": new})
    with pytest.raises(ValueError, match="still has deals"):
        bitrix_demo.delete_stage(new)
    bitrix_demo.delete_deal(deal_id)
    bitrix_demo.delete_stage(new)
    assert new not in [s["STATUS_ID"] for s in _stages(bitrix_demo_api, "DEAL_STAGE_1")]


# ---- contacts, companies, links --------------------------------------------------------------


def test_contact_multifields(bitrix_api: BitrixApi) -> None:
    fields = {
        "NAME": "Сергей",
        "LAST_NAME": "Кузнецов",
        "PHONE": [{"VALUE": "+7 (912) 345-67-89", "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": "sergey@example.ru", "VALUE_TYPE": "WORK"}],
    }
    contact_id = bitrix_api.result("crm.contact.add", {"fields": fields})
    contact = bitrix_api.result("crm.contact.get", {"id": contact_id})
    phone = contact["PHONE"][0]
    assert phone["VALUE"] == "+7 (912) 345-67-89"
    assert (phone["TYPE_ID"], phone["VALUE_TYPE"]) == ("PHONE", "WORK")
    assert contact["HAS_PHONE"] == "Y"
    assert "WEB" not in contact  # empty multifields are left out
    update = {
        "PHONE": [
            {"ID": phone["ID"], "VALUE": "8 495 123-45-67", "VALUE_TYPE": "HOME"},
            {"VALUE": "+7 999 000-00-00", "VALUE_TYPE": "MOBILE"},
        ],
        "EMAIL": [{"ID": contact["EMAIL"][0]["ID"], "DELETE": "Y"}],
    }
    bitrix_api.result("crm.contact.update", {"id": contact_id, "fields": update})
    contact = bitrix_api.result("crm.contact.get", {"id": contact_id})
    assert [(p["VALUE"], p["VALUE_TYPE"]) for p in contact["PHONE"]] == [
        ("8 495 123-45-67", "HOME"),
        ("+7 999 000-00-00", "MOBILE"),
    ]
    assert "EMAIL" not in contact
    assert contact["HAS_EMAIL"] == "N"
    found = bitrix_api.result("crm.contact.list", {"filter": {"PHONE": "8 495 123-45-67"}})
    assert [c["ID"] for c in found] == [str(contact_id)]


def test_companies(bitrix_api: BitrixApi) -> None:
    fields = {"TITLE": "ООО «Горизонт»", "UF_CRM_INN": "7701234567", "EMAIL": [{"VALUE": "a@b.ru"}]}
    company_id = bitrix_api.result("crm.company.add", {"fields": fields})
    company = bitrix_api.result("crm.company.get", {"id": company_id})
    assert (company["TITLE"], company["UF_CRM_INN"]) == ("ООО «Горизонт»", "7701234567")
    assert company["EMAIL"][0]["VALUE_TYPE"] == "WORK"
    listed = bitrix_api.result("crm.company.list", {"filter": {"%TITLE": "горизонт"}})
    assert [c["ID"] for c in listed] == [str(company_id)]


def test_deal_contact_links(bitrix_api: BitrixApi) -> None:
    contacts = [
        bitrix_api.result("crm.contact.add", {"fields": {"NAME": n}}) for n in ("А", "Б", "В")
    ]
    deal_id = bitrix_api.result("crm.deal.add", {"fields": {"CONTACT_IDS": contacts[:2]}})
    links = bitrix_api.result("crm.deal.contact.items.get", {"id": deal_id})
    assert links == [
        {"CONTACT_ID": contacts[0], "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
        {"CONTACT_ID": contacts[1], "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "N"},
    ]
    items = [{"CONTACT_ID": contacts[2]}, {"CONTACT_ID": contacts[0], "IS_PRIMARY": "Y"}]
    assert bitrix_api.result("crm.deal.contact.items.set", {"id": deal_id, "items": items}) is True
    links = bitrix_api.result("crm.deal.contact.items.get", {"id": deal_id})
    assert [(x["CONTACT_ID"], x["IS_PRIMARY"]) for x in links] == [
        (contacts[2], "N"),
        (contacts[0], "Y"),
    ]
    assert bitrix_api.result("crm.deal.get", {"id": deal_id})["CONTACT_ID"] == str(contacts[0])
    item = bitrix_api.result("crm.item.get", {"entityTypeId": 2, "id": deal_id})["item"]
    assert item["contactIds"] == [contacts[0], contacts[2]]
    assert (
        bitrix_api("crm.deal.contact.items.get", {"id": 777}).json()["error_description"]
        == "Not found."
    )


# ---- timeline, users -------------------------------------------------------------------------


def test_timeline_comments(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    deal_id = bitrix.add_deal({"TITLE": "Сайт"})
    fields = {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal", "COMMENT": "Партнёр взял в работу"}
    comment_id = bitrix_api.result("crm.timeline.comment.add", {"fields": fields})
    rows = bitrix_api.result(
        "crm.timeline.comment.list", {"filter": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal"}}
    )
    assert [(r["ID"], r["COMMENT"], r["FILES"]) for r in rows] == [
        (str(comment_id), "Партнёр взял в работу", {})
    ]
    orphan = bitrix_api("crm.timeline.comment.add", {"fields": dict(fields, ENTITY_ID=999)})
    assert orphan.json()["error"] == "OWNER_NOT_FOUND"


def test_users(bitrix_demo_api: BitrixApi) -> None:
    users = bitrix_demo_api.result("user.get")
    assert len(users) == 4
    assert (users[0]["NAME"], users[0]["LAST_NAME"]) == ("Анна", "Смирнова")
    assert bitrix_demo_api.result("user.get", {"ID": 2})[0]["ID"] == "2"
    assert bitrix_demo_api.result("user.current")["ID"] == "1"


# ---- seeds --------------------------------------------------------------------------------------


def test_demo_seed_is_realistic_and_deterministic() -> None:
    clock = SimClock()
    clock.freeze()
    with (
        BitrixSandbox(seed="demo", clock=clock) as bitrix_demo,
        BitrixSandbox(seed="demo", clock=clock) as again,
    ):
        _check_demo(bitrix_demo, again)


def _check_demo(bitrix_demo: BitrixSandbox, again: BitrixSandbox) -> None:
    ids = bitrix_demo.deal_ids()
    assert len(ids) == 36
    deals = [bitrix_demo.get_deal(i) for i in ids]
    partnered = [d for d in deals if d and d["UF_CRM_PARTNER"]]
    assert 10 < len(partnered) < 36
    assert all(d and d["CURRENCY_ID"] == "RUB" for d in deals)
    assert all(d and d["CONTACT_ID"] for d in deals)
    assert [again.get_deal(i) for i in again.deal_ids()] == deals
    contact = bitrix_demo.portal.contacts.rows[1]
    assert contact["PHONE"][0]["VALUE"].startswith(("+7 (", "8 495 "))
    company = bitrix_demo.portal.companies.rows[1]
    assert company["TITLE"].startswith("ООО «")
    assert len(company["UF_CRM_INN"]) == 10


def test_partner_seed(bitrix: BitrixSandbox) -> None:
    with BitrixSandbox(seed="partner", rate_limit=False) as partner:
        api = BitrixApi(partner)
        categories = api.result("crm.category.list", {"entityTypeId": 2})["categories"]
        assert [(c["id"], c["name"]) for c in categories] == [(0, "Лиды от агентства")]
        names = [s["NAME"] for s in _stages(api, "DEAL_STAGE")]
        assert names == [
            "Новый лид",
            "Квалификация",
            "Коммерческое предложение",
            "Договор",
            "Успех",
            "Провал",
        ]
        assert "UF_CRM_BRIEF" in api.result("crm.deal.fields")
        assert len(partner.deal_ids()) == 5
        api.close()


def test_unknown_seed_and_plan_are_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        BitrixSandbox(seed="nonsense")
    with pytest.raises(ValueError, match="plan"):
        BitrixSandbox(plan="free")


@pytest.mark.parametrize(
    ("upper", "camel"),
    [
        ("UF_CRM_PARTNER", "ufCrmPartner"),
        ("UF_CRM_1747309879", "ufCrm_1747309879"),  # the docs' examples
        ("UF_CRM_10_5186744711", "ufCrm10_5186744711"),
        ("UF_CRM_69D39E301706D", "ufCrm_69D39E301706D"),  # seen on real portals
        ("UF_CRM_SMART_INVOICE_1651138836085", "ufCrm_SMART_INVOICE_1651138836085"),
        ("ASSIGNED_BY_ID", "assignedById"),
        ("DATE_MODIFY", "updatedTime"),
        ("PARENT_ID_1220", "parentId1220"),
    ],
)
def test_names_convert_like_the_portal(upper: str, camel: str) -> None:
    assert to_camel(upper) == camel


def test_numbered_custom_field_through_crm_item(bitrix_api: BitrixApi) -> None:
    field = {"FIELD_NAME": "UF_CRM_1747309879", "USER_TYPE_ID": "double", "LABEL": "Скидка"}
    bitrix_api.result("crm.deal.userfield.add", {"fields": field})
    params = {"entityTypeId": 2, "fields": {"title": "x", "ufCrm_1747309879": 200.05}}
    item = bitrix_api.result("crm.item.add", params)["item"]
    assert item["ufCrm_1747309879"] == 200.05
    assert bitrix_api.result("crm.deal.get", {"id": item["id"]})["UF_CRM_1747309879"] == "200.05"


def test_stage_management_through_the_api(
    bitrix_demo: BitrixSandbox, bitrix_demo_api: BitrixApi
) -> None:
    fields = {
        "ENTITY_ID": "DEAL_STAGE_1",
        "STATUS_ID": "WAIT_PAY",
        "NAME": "Ждём оплату",
        "SORT": 45,
    }
    row_id = bitrix_demo_api.result("crm.status.add", {"fields": fields})
    rows = {s["STATUS_ID"]: s for s in _stages(bitrix_demo_api, "DEAL_STAGE_1")}
    assert rows["C1:WAIT_PAY"]["ID"] == str(row_id)
    assert rows["C1:WAIT_PAY"]["SEMANTICS"] is None
    duplicate = bitrix_demo_api("crm.status.add", {"fields": fields})
    assert duplicate.status_code == 400
    assert bitrix_demo_api.result("crm.status.update", {"id": row_id, "fields": {"NAME": "Оплата"}})
    assert "Оплата" in [s["NAME"] for s in _stages(bitrix_demo_api, "DEAL_STAGE_1")]
    deal_id = bitrix_demo.add_deal({"TITLE": "Сайт", "STAGE_ID": "C1:WAIT_PAY"})
    assert bitrix_demo_api("crm.status.delete", {"id": row_id}).status_code == 400
    bitrix_demo.delete_deal(deal_id)
    assert bitrix_demo_api.result("crm.status.delete", {"id": row_id}) is True
    system = rows["C1:NEW"]["ID"]
    assert bitrix_demo_api("crm.status.delete", {"id": system}).json()["error"] == "ERROR_CORE"


def test_contact_list_returns_multifields_only_when_selected(bitrix_demo_api: BitrixApi) -> None:
    plain = bitrix_demo_api.result("crm.contact.list", {"filter": {"ID": 1}})[0]
    assert "NAME" in plain and "PHONE" not in plain
    chosen = bitrix_demo_api.result(
        "crm.contact.list", {"filter": {"ID": 1}, "select": ["*", "PHONE"]}
    )[0]
    assert "NAME" in chosen and chosen["PHONE"][0]["TYPE_ID"] == "PHONE"
    assert "EMAIL" not in chosen
    full = bitrix_demo_api.result("crm.contact.get", {"id": 1})
    assert "PHONE" in full and "EMAIL" in full
