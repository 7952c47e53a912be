"""amoCRM codec: recorded official payloads → model, and model → request bodies."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridge.amocrm import codec, scalars
from bridge.crm import CodecError
from bridge.model import (
    Company,
    Contact,
    DealDraft,
    DealPatch,
    EnumOption,
    FieldDef,
    FieldKind,
    Money,
    Note,
    Pipeline,
    Semantics,
    Stage,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "amocrm"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_official_lead_decodes_with_aware_times_and_decimal_money() -> None:
    deal = codec.decode_deal(_load("lead_single.json"), currency="RUB", stamp_field_id=None)
    assert deal.id == "17657"
    assert deal.title == "Тестовая сделка"
    assert (deal.pipeline_id, deal.stage_id) == ("1113", "2030")
    assert deal.amount == Money(Decimal(25000), "RUB")
    assert deal.created_at == dt.datetime(2020, 4, 24, 15, 13, 46, tzinfo=dt.UTC)
    assert deal.updated_at.tzinfo is dt.UTC
    assert deal.company_id == "40401297"
    assert deal.responsible_id == "321123"
    # The official example carries its date field as a string; we accept it.
    assert deal.fields == {"1278898021": dt.date(2020, 5, 8)}


def test_stamp_field_becomes_deal_stamp_not_a_field() -> None:
    raw = _load("lead_single.json")
    raw["custom_fields_values"].append(
        {"field_id": 77, "field_type": "text", "values": [{"value": "agency-42"}]}
    )
    deal = codec.decode_deal(raw, currency="RUB", stamp_field_id="77")
    assert deal.stamp == "agency-42"
    assert "77" not in deal.fields


def test_null_custom_fields_and_null_price() -> None:
    raw = {**_load("lead_single.json"), "custom_fields_values": None, "price": None}
    deal = codec.decode_deal(raw, currency="EUR", stamp_field_id="1")
    assert deal.fields == {}
    assert deal.amount is None
    assert deal.stamp is None


def test_price_with_minor_units_wins_over_price() -> None:
    raw = {"price": 1000, "price_with_minor_units": 999.5}
    assert scalars.price_to_money(raw, "RUB") == Money(Decimal("999.5"), "RUB")


def test_money_to_price_refuses_fractions_and_foreign_currency() -> None:
    assert scalars.money_to_price(Money(Decimal("150000.00"), "RUB"), "RUB") == 150000
    with pytest.raises(CodecError):
        scalars.money_to_price(Money(Decimal("1.5"), "RUB"), "RUB")
    with pytest.raises(CodecError):
        scalars.money_to_price(Money(Decimal(1), "USD"), "RUB")


def test_unix_round_trip_and_naive_refused() -> None:
    moment = dt.datetime(2026, 11, 24, 23, 0, tzinfo=dt.UTC)
    assert scalars.from_unix(scalars.to_unix(moment)) == moment
    with pytest.raises(CodecError):
        scalars.to_unix(dt.datetime(2026, 1, 1))


def test_enum_values_decode_by_id_and_multiselect_as_tuple() -> None:
    raw = [
        {"field_id": 1, "field_type": "select", "values": [{"value": "VIP", "enum_id": 5}]},
        {
            "field_id": 2,
            "field_type": "multiselect",
            "values": [{"value": "a", "enum_id": 7}, {"value": "b", "enum_id": 8}],
        },
        {"field_id": 3, "field_type": "checkbox", "values": [{"value": True}]},
        {"field_id": 4, "field_type": "numeric", "values": [{"value": "12.50"}]},
        {"field_id": 5, "field_type": "date_time", "values": [{"value": 1700000000}]},
        {"field_id": 6, "field_type": "textarea", "values": []},
    ]
    assert codec.decode_fields(raw) == {
        "1": "5",
        "2": ("7", "8"),
        "3": True,
        "4": Decimal("12.50"),
        "5": dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC),
    }


def test_contact_phones_and_emails_by_field_code_either_enum_key() -> None:
    raw = _load("contact_single.json")
    raw["custom_fields_values"].append(
        {
            "field_id": 9,
            "field_code": "EMAIL",
            "field_type": "multitext",
            "values": [{"value": "ivan@example.ru", "enum_id": 2, "enum_code": "PRIV"}],
        }
    )
    contact = codec.decode_contact(raw)
    assert contact == Contact("Иван Иванов", ("+79123",), ("ivan@example.ru",), id="3")


def test_pipelines_map_won_lost_and_keep_unsorted_open() -> None:
    (pipeline,) = [
        codec.decode_pipeline(p) for p in _load("pipelines_list.json")["_embedded"]["pipelines"]
    ]
    assert pipeline.name == "Воронка" and pipeline.is_default
    by_id = {s.id: s for s in pipeline.stages}
    assert by_id["142"].semantics is Semantics.WON
    assert by_id["143"].semantics is Semantics.LOST
    assert by_id["32392156"].semantics is Semantics.OPEN  # unsorted, type 1
    assert [s.sort for s in pipeline.stages] == sorted(s.sort for s in pipeline.stages)


def test_field_definition_with_enum_options() -> None:
    field = codec.decode_field_def(_load("custom_field_select_created.json"))
    assert field.kind is FieldKind.ENUM and not field.multiple
    assert field.option_by_value("vip") == EnumOption("867972", "VIP")


def test_draft_encodes_embedded_contact_company_stamp_and_fields() -> None:
    defs = {
        "5": FieldDef("5", "Источник", FieldKind.ENUM),
        "6": FieldDef("6", "Бриф", FieldKind.STRING),
    }
    draft = DealDraft(
        key="k1",
        title="Сайт «Ромашки»",
        pipeline_id="10",
        stage_id="20",
        amount=Money(Decimal(150000), "RUB"),
        contact=Contact("Иван", phones=("+7 912",), emails=("i@example.ru",)),
        company=Company("ООО «Ромашка»"),
        stamp="agency-1",
        fields={"5": "501", "6": "Бриф"},
    )
    body = codec.encode_draft(draft, request_id="0", currency="RUB", defs=defs, stamp_field_id="99")
    assert body["name"] == "Сайт «Ромашки»"
    assert (body["pipeline_id"], body["status_id"], body["price"]) == (10, 20, 150000)
    assert body["request_id"] == "0"
    assert {"field_id": 5, "values": [{"enum_id": 501}]} in body["custom_fields_values"]
    assert {"field_id": 99, "values": [{"value": "agency-1"}]} in body["custom_fields_values"]
    (contact,) = body["_embedded"]["contacts"]
    assert contact["custom_fields_values"] == [
        {"field_code": "PHONE", "values": [{"value": "+7 912", "enum_code": "WORK"}]},
        {"field_code": "EMAIL", "values": [{"value": "i@example.ru", "enum_code": "WORK"}]},
    ]
    assert body["_embedded"]["companies"] == [{"name": "ООО «Ромашка»"}]
    json.dumps(body)  # no Decimal, no datetime left on the wire


def test_patch_touches_only_what_it_names_and_clears_with_null() -> None:
    patch = DealPatch("17", stage_id="142", fields={"6": None})
    body = codec.encode_patch(patch, currency="RUB", defs={}, pipeline_id="10")
    assert body == {
        "id": 17,
        "pipeline_id": 10,
        "status_id": 142,
        "custom_fields_values": [{"field_id": 6, "values": None}],
    }


def test_dates_encode_as_rfc3339_and_notes_as_common() -> None:
    (item,) = codec.encode_fields({"3": dt.date(2026, 1, 2)}, {})
    assert item["values"] == [{"value": "2026-01-02T00:00:00+00:00"}]
    assert codec.encode_note(Note("17", "Звонок ☎"), request_id="3") == {
        "entity_id": 17,
        "note_type": "common",
        "params": {"text": "Звонок ☎"},
        "request_id": "3",
    }


def test_notes_decode_from_official_page() -> None:
    notes = [codec.decode_note(n) for n in _load("lead_notes_list_page.json")["_embedded"]["notes"]]
    assert [n.text for n in notes] == ["Текст примечания 2", "Текст примечания"]
    assert all(n.deal_id == "26050861" and n.created_at for n in notes)


def test_stage_homes_leave_out_won_and_lost_which_every_pipeline_has() -> None:
    def pipeline(pid: str, *stages: str) -> Pipeline:
        return Pipeline(
            pid,
            pid,
            tuple(Stage(s, s, pid, codec.stage_semantics(int(s)), n) for n, s in enumerate(stages)),
        )

    found = codec.stage_homes([pipeline("1", "11", "142", "143"), pipeline("2", "21", "142")])
    assert found == {"11": "1", "21": "2"}
    assert codec.is_closing("142") and codec.is_closing("143")
    assert not codec.is_closing("11") and not codec.is_closing(None)
