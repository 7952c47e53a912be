"""``crm.requisite.*``: a company's ИНН lives in a requisite made from a template."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.sandbox.conftest import BitrixApi


def _company(api: BitrixApi, title: str) -> int:
    return int(api.result("crm.company.add", {"fields": {"TITLE": title}}))


def test_a_fresh_portal_has_the_three_russian_templates(bitrix_api: BitrixApi) -> None:
    presets = bitrix_api.result("crm.requisite.preset.list", {"order": {"SORT": "ASC"}})
    assert [(p["ID"], p["NAME"], p["ENTITY_TYPE_ID"], p["COUNTRY_ID"]) for p in presets] == [
        ("1", "Организация", "8", "1"),
        ("2", "ИП", "8", "1"),
        ("3", "Физ. лицо", "8", "1"),
    ]
    assert presets[0]["XML_ID"] == "#CRM_REQUISITE_PRESET_DEF_RU_COMPANY#"


def test_add_needs_owner_template_and_name(bitrix_api: BitrixApi) -> None:
    company = _company(bitrix_api, "ООО «Горизонт»")
    good = {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company, "PRESET_ID": 1, "NAME": "Организация"}
    for missing, says in (
        ("PRESET_ID", "PRESET_ID"),
        ("NAME", "NAME"),
        ("ENTITY_TYPE_ID", "ENTITY_TYPE_ID"),
        ("ENTITY_ID", "parent entity"),
    ):
        fields = {k: v for k, v in good.items() if k != missing}
        reply = bitrix_api("crm.requisite.add", {"fields": fields})
        assert reply.status_code == 400, missing
        assert says in reply.json()["error_description"]
    unknown = bitrix_api("crm.requisite.add", {"fields": {**good, "ENTITY_ID": 9999}})
    assert unknown.status_code == 400
    requisite_id = bitrix_api.result(
        "crm.requisite.add", {"fields": {**good, "RQ_INN": "7707083893"}}
    )
    row = bitrix_api.result("crm.requisite.get", {"id": requisite_id})
    assert (row["ENTITY_TYPE_ID"], row["ENTITY_ID"], row["PRESET_ID"]) == ("4", str(company), "1")
    assert (row["RQ_INN"], row["ACTIVE"], row["NAME"]) == ("7707083893", "Y", "Организация")


def test_list_by_owners_with_select_update_and_delete(bitrix_api: BitrixApi) -> None:
    first, second, other = (_company(bitrix_api, t) for t in ("Альфа", "Бета", "Гамма"))
    ids = {}
    for company, inn in ((first, "7707083893"), (second, "500100732259"), (other, "7736207543")):
        fields = {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company, "PRESET_ID": 1, "NAME": "Р"}
        ids[company] = bitrix_api.result("crm.requisite.add", {"fields": {**fields, "RQ_INN": inn}})
    query = {
        "filter": {"=ENTITY_TYPE_ID": 4, "@ENTITY_ID": [first, second]},
        "select": ["ENTITY_ID", "RQ_INN"],
        "order": {"ID": "ASC"},
        "start": -1,
    }
    rows = bitrix_api.result("crm.requisite.list", query)
    assert rows == [
        {"ID": str(ids[first]), "ENTITY_ID": str(first), "RQ_INN": "7707083893"},
        {"ID": str(ids[second]), "ENTITY_ID": str(second), "RQ_INN": "500100732259"},
    ]
    assert bitrix_api.result("crm.requisite.update", {"id": ids[first], "fields": {"RQ_INN": ""}})
    assert bitrix_api.result("crm.requisite.get", {"id": ids[first]})["RQ_INN"] == ""
    assert bitrix_api.result("crm.requisite.delete", {"id": ids[second]})
    assert bitrix_api("crm.requisite.get", {"id": ids[second]}).status_code == 400


def test_a_batch_adds_the_requisite_of_the_company_it_just_created(bitrix_api: BitrixApi) -> None:
    company = urlencode({"fields[TITLE]": "ООО «Восток»"})
    requisite = urlencode(
        {
            "fields[ENTITY_TYPE_ID]": 4,
            "fields[ENTITY_ID]": "$result[o]",
            "fields[PRESET_ID]": 1,
            "fields[NAME]": "Организация",
            "fields[RQ_INN]": "7707083893",
        }
    )
    cmd = {"o": f"crm.company.add?{company}", "r": f"crm.requisite.add?{requisite}"}
    answer = bitrix_api.result("batch", {"halt": 1, "cmd": cmd})
    company_id = answer["result"]["o"]
    rows = bitrix_api.result("crm.requisite.list", {"filter": {"ENTITY_ID": company_id}})
    assert [r["RQ_INN"] for r in rows] == ["7707083893"]
