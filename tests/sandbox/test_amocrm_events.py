"""The events feed of the amoCRM sandbox: what changes produce, filters, paging."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.amocrm.account import AmoSandbox
from tests.sandbox.conftest import AmoApi
from tests.sandbox.rows import lead_row


def _events(api: AmoApi, query: str = "") -> list[dict[str, Any]]:
    reply = api("GET", f"/api/v4/events?limit=100{query}")
    if reply.status_code == 204:
        return []
    assert reply.status_code == 200
    return list(reply.json()["_embedded"]["events"])


def test_seed_is_quiet_and_an_empty_feed_is_204(amo_api: AmoApi) -> None:
    assert amo_api("GET", "/api/v4/events").status_code == 204


def test_changes_become_typed_events_newest_first(amo: AmoSandbox, amo_api: AmoApi) -> None:
    pipeline = amo.pipeline_id("Партнёрские лиды")
    lead_id = amo.add_lead({"name": "Событийная", "pipeline_id": pipeline})
    first_stage = lead_row(amo, lead_id)["status_id"]
    amo.clock.advance(5)
    contract = amo.status_id(pipeline, "Договор")
    amo.update_lead(lead_id, {"status_id": contract, "price": 777, "name": "Переименована"})
    amo.add_note(lead_id, "Комментарий")
    amo.delete_lead(lead_id)
    events = _events(amo_api)
    assert [e["type"] for e in events] == [
        "lead_deleted",
        "common_note_added",
        "name_field_changed",
        "sale_field_changed",
        "lead_status_changed",
        "lead_added",
    ]
    assert all(e["entity_id"] == lead_id and e["entity_type"] == "lead" for e in events)
    assert all(isinstance(e["id"], str) and len(e["id"]) == 26 for e in events)
    status = events[4]
    assert status["value_before"] == [{"lead_status": {"id": first_stage, "pipeline_id": pipeline}}]
    assert status["value_after"] == [{"lead_status": {"id": contract, "pipeline_id": pipeline}}]
    assert events[3]["value_after"] == [{"sale_field_value": {"sale": 777}}]
    assert status["created_by"] == amo.ui_user_id


def test_custom_field_events_carry_type_code_and_enum(amo: AmoSandbox, amo_api: AmoApi) -> None:
    source = amo.field_id("Источник")
    lead_id = amo.lead_ids()[0]
    values = [{"field_id": source, "values": [{"value": "Рекомендация"}]}]
    amo_api("PATCH", f"/api/v4/leads/{lead_id}", json={"custom_fields_values": values})
    (event,) = _events(amo_api, "&filter[type][]=custom_field_value_changed")
    (after,) = event["value_after"]
    assert after["custom_field_value"]["field_id"] == source
    assert after["custom_field_value"]["field_type"] == 4  # select
    assert after["custom_field_value"]["text"] == "Рекомендация"
    assert event["value_before"][0]["custom_field_value"]["text"] == "Агентство"
    by_field = _events(amo_api, f"&filter[type]=custom_field_{source}_value_changed")
    assert [e["id"] for e in by_field] == [event["id"]]
    assert event["created_by"] == amo.store.admin_id  # API writes act as the token's admin


def test_filters_by_type_entity_id_time_and_stage(amo: AmoSandbox, amo_api: AmoApi) -> None:
    pipeline = amo.pipeline_id("Партнёрские лиды")
    first, second = amo.lead_ids()[:2]
    amo.update_lead(first, {"price": 1})
    amo.clock.advance(100)
    mark = int(amo.clock.time())
    amo.update_lead(second, {"status_id": amo.status_id(pipeline, "Договор")})
    amo.update_lead(second, {"price": 2})
    assert {
        e["entity_id"]
        for e in _events(amo_api, f"&filter[entity_id][]={first}&filter[entity][]=lead")
    } == {first}
    since = _events(amo_api, f"&filter[created_at][from]={mark}")
    assert {e["type"] for e in since} == {"lead_status_changed", "sale_field_changed"}
    assert _events(amo_api, f"&filter[created_at]={mark - 200},{mark - 1}")[0]["entity_id"] == first
    types = _events(amo_api, "&filter[type]=sale_field_changed,lead_status_changed")
    assert len(types) == 3
    contract = amo.status_id(pipeline, "Договор")
    stage = f"&filter[value_after][leads_statuses][0][pipeline_id]={pipeline}"
    stage += f"&filter[value_after][leads_statuses][0][status_id]={contract}"
    assert [e["entity_id"] for e in _events(amo_api, stage)] == [second]
    assert _events(amo_api, "&filter[entity][]=contact") == []


def test_events_page_at_most_100(amo: AmoSandbox, amo_api: AmoApi) -> None:
    assert amo_api("GET", "/api/v4/events?limit=101").status_code == 422
    for price in range(3):
        amo.update_lead(amo.lead_ids()[0], {"price": price + 1})
    page = amo_api("GET", "/api/v4/events?limit=2").json()
    assert len(page["_embedded"]["events"]) == 2 and "next" in page["_links"]
    last = amo_api("GET", page["_links"]["next"]["href"]).json()
    assert len(last["_embedded"]["events"]) == 1 and "next" not in last["_links"]
    one = last["_embedded"]["events"][0]
    assert amo_api("GET", f"/api/v4/events/{one['id']}").json()["id"] == one["id"]
