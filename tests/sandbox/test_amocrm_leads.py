"""Leads in the amoCRM sandbox over HTTP: paging, filters, order, writes, complex add."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.sandbox.amocrm.account import AmoSandbox
from tests.sandbox.conftest import AmoApi
from tests.sandbox.rows import lead_row


@pytest.fixture
def empty() -> Iterator[tuple[AmoSandbox, AmoApi]]:
    with AmoSandbox(seed="empty", rate_limit=None) as sandbox:
        api = AmoApi(sandbox)
        yield sandbox, api
        api.close()


def _ids(reply_json: dict[str, object]) -> list[int]:
    embedded = reply_json["_embedded"]
    assert isinstance(embedded, dict)
    return [lead["id"] for lead in embedded["leads"]]


def test_pages_follow_next_links_and_end_with_204(empty: tuple[AmoSandbox, AmoApi]) -> None:
    amo, api = empty
    created = amo.seed_leads(7)
    seen: list[int] = []
    url = "/api/v4/leads?limit=3"
    pages = 0
    while url:
        reply = api("GET", url)
        assert reply.status_code == 200
        body = reply.json()
        pages += 1
        assert body["_page"] == pages
        seen += _ids(body)
        url = body["_links"].get("next", {}).get("href", "")
    assert pages == 3 and seen == created
    past_end = api("GET", "/api/v4/leads?limit=3&page=4")
    assert past_end.status_code == 204 and past_end.content == b""


def test_empty_account_lists_nothing_with_204(empty: tuple[AmoSandbox, AmoApi]) -> None:
    _, api = empty
    reply = api("GET", "/api/v4/leads")
    assert reply.status_code == 204 and reply.content == b""


def test_limit_above_250_is_refused(empty: tuple[AmoSandbox, AmoApi]) -> None:
    _, api = empty
    assert api("GET", "/api/v4/leads?limit=250").status_code == 204
    reply = api("GET", "/api/v4/leads?limit=251")
    assert reply.status_code == 422 and reply.json()["detail"] == "Limit 250 per page"


def test_missing_lead_is_404_problem(amo_api: AmoApi) -> None:
    reply = amo_api("GET", "/api/v4/leads/1")
    assert reply.status_code == 404
    assert reply.headers["Content-Type"].startswith("application/problem+json")


def test_filter_by_ids_in_all_three_spellings(amo: AmoSandbox, amo_api: AmoApi) -> None:
    first, second, third = amo.lead_ids()[:3]
    both = amo_api("GET", f"/api/v4/leads?filter[id][]={first}&filter[id][]={third}").json()
    assert _ids(both) == [first, third]
    indexed = amo_api("GET", f"/api/v4/leads?filter[id][0]={second}").json()
    assert _ids(indexed) == [second]
    assert _ids(amo_api("GET", f"/api/v4/leads?filter[id]={first}").json()) == [first]


def test_filter_by_updated_at_range_and_order(amo: AmoSandbox, amo_api: AmoApi) -> None:
    amo.clock.advance(3600)
    mark = int(amo.clock.time())
    older, newer = amo.lead_ids()[:2]
    amo.update_lead(newer, {"price": 1})
    amo.clock.advance(10)
    amo.update_lead(older, {"price": 2})
    since = amo_api("GET", f"/api/v4/leads?filter[updated_at][from]={mark}&order[updated_at]=asc")
    assert _ids(since.json()) == [newer, older]
    desc = amo_api("GET", f"/api/v4/leads?filter[updated_at][from]={mark}&order[updated_at]=desc")
    assert _ids(desc.json()) == [older, newer]
    window = amo_api(
        "GET", f"/api/v4/leads?filter[updated_at][from]={mark}&filter[updated_at][to]={mark}"
    )
    assert _ids(window.json()) == [newer]
    by_id = amo_api("GET", "/api/v4/leads?order[id]=desc&limit=2").json()
    assert _ids(by_id) == sorted(amo.lead_ids(), reverse=True)[:2]


def test_filter_by_pipeline_and_stage(amo: AmoSandbox, amo_api: AmoApi) -> None:
    own = amo.pipeline_id("Собственные продажи")
    partner = amo.pipeline_id("Партнёрские лиды")
    in_own = amo_api("GET", f"/api/v4/leads?filter[pipeline_id]={own}").json()
    assert all(lead["pipeline_id"] == own for lead in in_own["_embedded"]["leads"])
    stage = amo.status_id(partner, "Квалификация")
    query = f"filter[statuses][0][pipeline_id]={partner}&filter[statuses][0][status_id]={stage}"
    staged = amo_api("GET", f"/api/v4/leads?{query}").json()["_embedded"]["leads"]
    assert [lead["name"] for lead in staged] == ["Интернет-магазин автозапчастей"]
    won = f"filter[statuses][0][pipeline_id]={own}&filter[statuses][0][status_id]=142"
    assert amo_api("GET", f"/api/v4/leads?{won}").status_code == 204


def test_query_searches_names_and_custom_field_values(amo: AmoSandbox, amo_api: AmoApi) -> None:
    by_brief = amo_api("GET", "/api/v4/leads", params={"query": "онлайн-записью"}).json()
    assert [lead["name"] for lead in by_brief["_embedded"]["leads"]] == [
        "Сайт для стоматологии «Улыбка»"
    ]
    by_name = amo_api("GET", "/api/v4/leads", params={"query": "АВТОЗАПЧАСТЕЙ"}).json()
    assert len(by_name["_embedded"]["leads"]) == 1
    assert amo_api("GET", "/api/v4/leads", params={"query": "нет такого"}).status_code == 204


def test_with_contacts_embeds_contact_refs(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = amo.lead_ids()[0]
    plain = amo_api("GET", f"/api/v4/leads/{lead_id}").json()
    assert "contacts" not in plain["_embedded"]
    rich = amo_api("GET", f"/api/v4/leads/{lead_id}?with=contacts").json()
    (contact,) = rich["_embedded"]["contacts"]
    assert contact["is_main"] is True
    person = amo_api("GET", f"/api/v4/contacts/{contact['id']}").json()
    phone = person["custom_fields_values"][0]
    assert phone["field_code"] == "PHONE" and phone["values"][0]["enum_code"] == "WORK"
    assert person["name"] == "Анна Смирнова"


def test_create_echoes_request_ids_and_round_trips_cyrillic(
    empty: tuple[AmoSandbox, AmoApi],
) -> None:
    amo, api = empty
    body = [{"name": "Сделка «Ёлка»", "price": 150000, "request_id": "a-1"}, {"name": "Вторая"}]
    reply = api("POST", "/api/v4/leads", json=body)
    assert reply.status_code == 200
    items = reply.json()["_embedded"]["leads"]
    assert [i["request_id"] for i in items] == ["a-1", "1"]
    lead = api("GET", f"/api/v4/leads/{items[0]['id']}").json()
    assert lead["name"] == "Сделка «Ёлка»" and lead["price"] == 150000
    assert lead["custom_fields_values"] is None
    pipeline = amo.store.main_pipeline()
    assert lead["pipeline_id"] == pipeline["id"]
    assert lead["status_id"] == pipeline["statuses"][1]["id"]  # first stage after unsorted


def test_price_must_be_whole(empty: tuple[AmoSandbox, AmoApi]) -> None:
    _, api = empty
    reply = api("POST", "/api/v4/leads", json=[{"name": "x", "price": 10.5}])
    assert reply.status_code == 400
    assert reply.json()["validation-errors"][0]["errors"][0]["path"] == "price"


def test_patch_batch_answers_per_item_and_is_all_or_nothing(
    amo: AmoSandbox, amo_api: AmoApi
) -> None:
    first, second = amo.lead_ids()[:2]
    amo.clock.advance(60)
    reply = amo_api(
        "PATCH",
        "/api/v4/leads",
        json=[{"id": first, "price": 11}, {"id": second, "name": "Новое имя"}],
    )
    assert reply.status_code == 200
    items = reply.json()["_embedded"]["leads"]
    assert [i["id"] for i in items] == [first, second]
    assert all(i["updated_at"] == int(amo.clock.time()) for i in items)
    assert lead_row(amo, first)["price"] == 11
    broken = [{"id": first, "price": 12}, {"id": second, "status_id": 999}]
    refused = amo_api("PATCH", "/api/v4/leads", json=broken)
    assert refused.status_code == 400
    assert refused.json()["validation-errors"][0]["request_id"] == "1"
    assert lead_row(amo, first)["price"] == 11


def test_patch_one_moves_updated_at_and_closes_on_won(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = amo.lead_ids()[0]
    before = amo.get_lead(lead_id)
    assert before is not None
    amo.clock.advance(120)
    pipeline = before["pipeline_id"]
    reply = amo_api(
        "PATCH", f"/api/v4/leads/{lead_id}", json={"status_id": 142, "pipeline_id": pipeline}
    )
    assert reply.status_code == 200
    after = amo_api("GET", f"/api/v4/leads/{lead_id}").json()
    assert after["updated_at"] >= before["updated_at"] + 120
    assert after["status_id"] == 142 and after["closed_at"] == after["updated_at"]


def test_custom_field_values_write_read_and_clear(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = amo.lead_ids()[0]
    source = amo.field_id("Источник")
    paid = amo.field_id("Оплачено клиентом")
    patch = {
        "custom_fields_values": [
            {"field_id": source, "values": [{"value": "Рекомендация"}]},
            {"field_id": paid, "values": [{"value": 9000}]},
        ]
    }
    amo_api("PATCH", f"/api/v4/leads/{lead_id}", json=patch)
    values = {v["field_name"]: v for v in lead_row(amo, lead_id)["custom_fields_values"]}
    assert values["Источник"]["values"][0]["value"] == "Рекомендация"
    assert isinstance(values["Источник"]["values"][0]["enum_id"], int)
    assert values["Оплачено клиентом"]["values"] == [{"value": "9000"}]
    assert values["Бриф"]["field_type"] == "textarea"  # untouched fields stay
    amo_api(
        "PATCH",
        f"/api/v4/leads/{lead_id}",
        json={"custom_fields_values": [{"field_id": paid, "values": None}]},
    )
    names = [v["field_name"] for v in lead_row(amo, lead_id)["custom_fields_values"]]
    assert "Оплачено клиентом" not in names
    bad = {"custom_fields_values": [{"field_id": source, "values": [{"enum_id": 1}]}]}
    assert amo_api("PATCH", f"/api/v4/leads/{lead_id}", json=bad).status_code == 400


def test_complex_add_creates_linked_contact_and_company(empty: tuple[AmoSandbox, AmoApi]) -> None:
    amo, api = empty
    phone = [{"field_code": "PHONE", "values": [{"value": "+7 999 000-11-22", "enum_code": "MOB"}]}]
    body = [
        {
            "name": "Комплексная",
            "price": 5000,
            "_embedded": {
                "contacts": [
                    {"first_name": "Павел", "last_name": "Сидоров", "custom_fields_values": phone}
                ],
                "companies": [{"name": "АО «Север»"}],
            },
        }
    ]
    (result,) = api("POST", "/api/v4/leads/complex", json=body).json()
    assert result["merged"] is False and result["request_id"] == ["0"]
    lead = api("GET", f"/api/v4/leads/{result['id']}?with=contacts").json()
    assert [c["id"] for c in lead["_embedded"]["contacts"]] == [result["contact_id"]]
    assert [c["id"] for c in lead["_embedded"]["companies"]] == [result["company_id"]]
    contact = api("GET", f"/api/v4/contacts/{result['contact_id']}").json()
    assert contact["name"] == "Павел Сидоров"
    assert contact["_embedded"]["companies"][0]["id"] == result["company_id"]
    assert contact["custom_fields_values"][0]["values"][0]["enum_code"] == "MOB"
    too_many = api("POST", "/api/v4/leads/complex", json=[{"name": str(i)} for i in range(51)])
    assert too_many.status_code == 422
    assert len(amo.lead_ids()) == 1


def test_link_and_unlink_contacts(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = amo.lead_ids()[-1]  # the own-sales lead has no contact
    contact_id = amo.add_contact({"name": "Новый Контакт"})
    link = [
        {
            "to_entity_id": contact_id,
            "to_entity_type": "contacts",
            "metadata": {"main_contact": True},
        }
    ]
    assert amo_api("POST", f"/api/v4/leads/{lead_id}/link", json=link).status_code == 200
    lead = amo_api("GET", f"/api/v4/leads/{lead_id}?with=contacts").json()
    assert lead["_embedded"]["contacts"][0]["id"] == contact_id
    mass = [{"entity_id": lead_id, "to_entity_id": contact_id, "to_entity_type": "contacts"}]
    assert amo_api("POST", "/api/v4/leads/unlink", json=mass).status_code == 204
    lead = amo_api("GET", f"/api/v4/leads/{lead_id}?with=contacts").json()
    assert lead["_embedded"]["contacts"] == []


def test_direct_methods_act_like_a_person(amo: AmoSandbox) -> None:
    lead_id = amo.add_lead({"name": "Из интерфейса", "price": 700})
    assert lead_id in amo.lead_ids()
    amo.update_lead(lead_id, {"name": "Переименована"})
    lead = amo.get_lead(lead_id)
    assert lead is not None and lead["name"] == "Переименована"
    assert lead["updated_by"] == amo.ui_user_id != amo.store.admin_id
    amo.delete_lead(lead_id)
    assert amo.get_lead(lead_id) is None and lead_id not in amo.lead_ids()
    ids = amo.seed_leads(3, with_contacts=True)
    assert all(lead_row(amo, i)["_embedded"]["contacts"] for i in ids)


def test_stage_changes_by_the_account_admin(amo: AmoSandbox, amo_api: AmoApi) -> None:
    pipeline = amo.pipeline_id("Партнёрские лиды")
    added = amo.add_status(pipeline, "Предоплата")
    statuses = amo_api("GET", f"/api/v4/leads/pipelines/{pipeline}/statuses").json()
    names = [s["name"] for s in statuses["_embedded"]["statuses"]]
    assert names.index("Предоплата") == names.index("Договор") + 1
    assert names[-2:] == ["Успешно реализовано", "Закрыто и не реализовано"]
    amo.rename_status(pipeline, added, "Аванс")
    lead_id = amo.lead_ids()[0]
    amo.update_lead(lead_id, {"status_id": added})
    amo.delete_status(pipeline, added)
    moved = amo.get_lead(lead_id)
    assert moved is not None and moved["status_id"] == amo.status_id(
        pipeline, "Новый лид от агентства"
    )
    one = amo_api("GET", f"/api/v4/leads/pipelines/{pipeline}").json()
    assert "Аванс" not in [s["name"] for s in one["_embedded"]["statuses"]]


def test_every_pipeline_has_won_lost_and_unsorted(amo_api: AmoApi) -> None:
    pipelines = amo_api("GET", "/api/v4/leads/pipelines").json()["_embedded"]["pipelines"]
    assert [p["name"] for p in pipelines] == ["Партнёрские лиды", "Собственные продажи"]
    assert [p["is_main"] for p in pipelines] == [True, False]
    for pipe in pipelines:
        statuses = pipe["_embedded"]["statuses"]
        assert statuses[0]["type"] == 1 and statuses[0]["name"] == "Неразобранное"
        assert {142, 143} <= {s["id"] for s in statuses}


def test_users_account_and_fields(amo: AmoSandbox, amo_api: AmoApi) -> None:
    users = amo_api("GET", "/api/v4/users").json()["_embedded"]["users"]
    assert [u["name"] for u in users] == ["Олег Ковалёв", "Мария Иванова"]
    assert users[0]["rights"]["is_admin"] is True
    account = amo_api("GET", "/api/v4/account").json()
    assert account["id"] == amo.account_id and account["subdomain"] == "partner"
    fields = amo_api("GET", "/api/v4/leads/custom_fields").json()["_embedded"]["custom_fields"]
    by_name = {f["name"]: f for f in fields}
    assert by_name["Бриф"]["type"] == "textarea"
    assert [e["value"] for e in by_name["Источник"]["enums"]] == [
        "Агентство",
        "Сайт",
        "Рекомендация",
    ]
    one = amo_api("GET", f"/api/v4/leads/custom_fields/{by_name['Бриф']['id']}").json()
    assert one["name"] == "Бриф"
    contact_fields = amo_api("GET", "/api/v4/contacts/custom_fields").json()["_embedded"][
        "custom_fields"
    ]
    assert {"PHONE", "EMAIL"} <= {f["code"] for f in contact_fields}


def test_notes_by_lead_and_type(amo: AmoSandbox, amo_api: AmoApi) -> None:
    first, second = amo.lead_ids()[:2]
    amo.add_note(first, "Позвонить в понедельник")
    amo_api(
        "POST",
        "/api/v4/leads/notes",
        json=[{"entity_id": second, "note_type": "common", "params": {"text": "Второй"}}],
    )
    mine = amo_api("GET", f"/api/v4/leads/{first}/notes").json()["_embedded"]["notes"]
    assert [n["params"]["text"] for n in mine] == ["Позвонить в понедельник"]
    every = amo_api("GET", "/api/v4/leads/notes?filter[note_type]=common").json()["_embedded"][
        "notes"
    ]
    assert {n["entity_id"] for n in every} == {first, second}
    assert amo_api("GET", f"/api/v4/leads/{amo.lead_ids()[2]}/notes").status_code == 204


def test_direct_methods_refuse_bad_input_like_the_api(amo: AmoSandbox) -> None:
    with pytest.raises(ValueError, match="status_id"):
        amo.update_lead(amo.lead_ids()[0], {"status_id": 1})
    with pytest.raises(ValueError, match="price"):
        amo.add_lead({"name": "x", "price": "много"})
    with pytest.raises(KeyError):
        amo.update_lead(1, {"name": "нет такой"})
    with pytest.raises(KeyError):
        amo.delete_lead(1)


def test_complex_add_can_reuse_an_existing_contact(amo: AmoSandbox, amo_api: AmoApi) -> None:
    contact_id = amo.add_contact({"name": "Уже есть"})
    body = [{"name": "С известным контактом", "_embedded": {"contacts": [{"id": contact_id}]}}]
    (result,) = amo_api("POST", "/api/v4/leads/complex", json=body).json()
    assert result["contact_id"] == contact_id and result["company_id"] is None
    missing = [{"name": "x", "_embedded": {"contacts": [{"id": 1}]}}]
    assert amo_api("POST", "/api/v4/leads/complex", json=missing).status_code == 400


def test_tags_add_and_delete(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = amo.lead_ids()[0]
    amo_api(
        "PATCH",
        f"/api/v4/leads/{lead_id}",
        json={"tags_to_add": [{"name": "партнёр"}, {"name": "vip"}]},
    )
    tags = amo_api("GET", f"/api/v4/leads/{lead_id}").json()["_embedded"]["tags"]
    assert [t["name"] for t in tags] == ["партнёр", "vip"]
    amo_api("PATCH", f"/api/v4/leads/{lead_id}", json={"tags_to_delete": [{"id": tags[1]["id"]}]})
    tags = amo_api("GET", f"/api/v4/leads/{lead_id}").json()["_embedded"]["tags"]
    assert [t["name"] for t in tags] == ["партнёр"]


def test_custom_field_batch_is_all_or_nothing(amo_api: AmoApi) -> None:
    body = [{"name": "Годный", "type": "text"}, {"name": "Негодный", "type": "multitext"}]
    reply = amo_api("POST", "/api/v4/leads/custom_fields", json=body)
    assert reply.status_code == 400 and reply.json()["validation-errors"][0]["request_id"] == "1"
    fields = amo_api("GET", "/api/v4/leads/custom_fields").json()["_embedded"]["custom_fields"]
    assert "Годный" not in [f["name"] for f in fields]
