"""The pure halves of the company ИНН: Bitrix24 requisites and the amoCRM company field."""

from __future__ import annotations

from typing import Any

from bridge.amocrm import codec as amo_codec
from bridge.amocrm import companies as amo
from bridge.bitrix import companies as b24
from bridge.bitrix import writes
from bridge.model import Company, DealDraft

PRESETS = [
    {"ID": "1", "NAME": "Организация", "XML_ID": "#CRM_REQUISITE_PRESET_DEF_RU_COMPANY#"},
    {"ID": "2", "NAME": "ИП", "XML_ID": "#CRM_REQUISITE_PRESET_DEF_RU_INDIVIDUAL#"},
    {"ID": "7", "NAME": "Своя", "XML_ID": "", "ACTIVE": "Y"},
]


def test_bitrix_takes_the_first_requisite_with_an_inn_by_sort_then_id() -> None:
    rows: list[dict[str, Any]] = [
        {"ID": "9", "ENTITY_ID": "5", "SORT": "500", "RQ_INN": "7736207543"},
        {"ID": "3", "ENTITY_ID": "5", "SORT": "100", "RQ_INN": ""},  # address-only, empty
        {"ID": "4", "ENTITY_ID": "5", "SORT": "500", "RQ_INN": "7707 083 893"},
        {"ID": "8", "ENTITY_ID": "6", "SORT": None, "RQ_INN": None},
    ]
    assert b24.tax_ids(rows) == {"5": "7707083893"}


def test_bitrix_template_follows_the_kind_of_inn() -> None:
    assert b24.pick_preset(PRESETS, "7707083893") == "1"
    assert b24.pick_preset(PRESETS, "500100732259") == "2"
    assert b24.pick_preset(PRESETS[2:], "7707083893") == "7"  # no default: first active
    assert b24.pick_preset([{**PRESETS[0], "ACTIVE": "N"}], "7707083893") is None


def test_bitrix_create_adds_the_requisite_after_the_company_only_with_an_inn() -> None:
    firm = Company("ООО «Ромашка»", tax_id="7707083893")
    draft = DealDraft("k", "Сайт", "1", "C1:NEW", company=firm)
    item = writes.create_item(0, draft, stamp_field="ORIGIN_ID", presets={"7707083893": "1"})
    assert list(item.commands) == ["o0", "r0", "d0"]
    assert item.required == ("d0",)  # a refused requisite never fails (or repeats) the deal
    assert "fields[ENTITY_ID]=%24result%5Bo0%5D" in item.commands["r0"]
    assert "fields[RQ_INN]=7707083893" in item.commands["r0"]
    plain = DealDraft("k", "Сайт", "1", "C1:NEW", company=Company("X"))
    bare = writes.create_item(1, plain, stamp_field="ORIGIN_ID", presets={"7707083893": "1"})
    assert list(bare.commands) == ["o1", "d1"]


def test_amocrm_finds_the_field_by_code_or_name_and_reads_it() -> None:
    defs = [{"id": 11, "name": "Web", "code": "WEB"}, {"id": 12, "name": "ИНН", "code": None}]
    assert amo.tax_field(defs, "инн") == "12"
    assert amo.tax_field(defs, "WEB") == "11"
    assert amo.tax_field(defs, "КПП") is None
    rows: list[dict[str, Any]] = [
        {"id": 1, "custom_fields_values": [{"field_id": 12, "values": [{"value": "7707083893"}]}]},
        {"id": 2, "custom_fields_values": None},
    ]
    assert amo.tax_ids(rows, "12") == {"1": "7707083893"}
    assert amo.tax_ids(rows, None) == {}


def test_amocrm_embeds_the_inn_in_the_new_company() -> None:
    firm = Company("ООО «Ромашка»", phones=("+79123456789",), tax_id="7707083893")
    body = amo_codec.encode_company(firm, tax_field_id="12")
    assert body["custom_fields_values"][-1] == {
        "field_id": 12,
        "values": [{"value": "7707083893"}],
    }
    assert "custom_fields_values" not in amo_codec.encode_company(Company("X"), tax_field_id="12")


def test_bridge_check_warns_when_an_amocrm_account_has_no_inn_field() -> None:
    from bridge.amocrm.client import AmoCrm
    from bridge.amocrm.oauth import LongLivedToken
    from bridge.mapping.report import Reporter
    from bridge.mapping.tax_field import check_tax_field
    from bridge.mapping.yaml_loader import load_yaml
    from bridge.ratelimit import Pacer
    from bridge.sandbox.amocrm.account import AmoSandbox
    from bridge.secrets import Secret
    from tests.mapping.conftest import EXAMPLE

    loaded = load_yaml(EXAMPLE.read_text("utf-8"), "mapping.yaml")
    with AmoSandbox(seed="empty", rate_limit=None) as box:
        crm = AmoCrm(
            box.base_url,
            LongLivedToken(Secret(str(box.long_lived_token))),
            system="amocrm:alfa",
            pacer=Pacer(rate=10_000, burst=10_000),
        )
        try:
            out = Reporter("mapping.yaml", loaded)
            check_tax_field(crm, ("partners", "alfa"), out)
            (warning,) = out.warnings
            lines = EXAMPLE.read_text("utf-8").splitlines()
            alfa = lines.index("  alfa:")
            connection = alfa + lines[alfa:].index("    connection:") + 1  # 1-based
            assert (warning.line, warning.path) == (connection + 1, "partners.alfa.connection")
            assert warning.message.startswith(
                "no company field 'ИНН' — the client's ИНН is neither sent to this partner "
                "nor read for channel conflicts"
            ), warning.message
            field = box.add_field("companies", {"name": "ИНН", "type": "text"})
            again = Reporter("mapping.yaml", loaded)
            check_tax_field(crm, ("partners", "alfa"), again)
            assert again.warnings == []
            assert crm.find_company_tax_field() == str(field)
        finally:
            crm.close()
