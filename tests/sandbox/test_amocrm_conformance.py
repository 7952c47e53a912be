"""Every official payload in tests/fixtures/amocrm against what the sandbox answers.

For each fixture the same call is made against the sandbox and the answer must
have the fixture's envelope: every key the fixture has (recursively), with the
same JSON type. Values may differ. Documented exceptions are passed explicitly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.phpform import parse
from bridge.sandbox.amocrm.account import AmoSandbox
from tests.sandbox.conftest import AmoApi, HookReceiver

FIXTURES = Path(__file__).parents[1] / "fixtures" / "amocrm"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


_KINDS = {type(None): "null", bool: "bool", int: "int", float: "float", str: "str"}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def mismatches(
    expected: Any,
    actual: Any,
    path: str = "",
    *,
    loose: frozenset[str] = frozenset(),
    may_be_empty: frozenset[str] = frozenset(),
    aliases: dict[str, str] | None = None,
) -> list[str]:
    """Where ``actual`` lacks the structure of ``expected`` (empty list = conforms).

    ``loose`` paths may hold any value; lists listed in ``may_be_empty`` may be
    empty in ``actual``; ``aliases`` maps a fixture key to the key the sandbox uses.
    A ``null`` in the fixture accepts any type (nullable field).
    """
    opts: dict[str, Any] = {"loose": loose, "may_be_empty": may_be_empty, "aliases": aliases}
    if path in loose or expected is None:
        return []
    if isinstance(expected, dict):
        return _object_mismatches(expected, actual, path, opts)
    if isinstance(expected, list):
        return _array_mismatches(expected, actual, path, opts)
    if _kind(expected) != _kind(actual):
        return [f"{path}: expected {_kind(expected)}, got {_kind(actual)}"]
    return []


def _object_mismatches(
    expected: dict[str, Any], actual: Any, path: str, opts: dict[str, Any]
) -> list[str]:
    if not isinstance(actual, dict):
        return [f"{path or '<root>'}: expected object, got {_kind(actual)}"]
    found = []
    for key, value in expected.items():
        own = (opts["aliases"] or {}).get(key, key)
        where = f"{path}.{key}" if path else key
        if own not in actual:
            found.append(f"{where}: missing")
        else:
            found += mismatches(value, actual[own], where, **opts)
    return found


def _array_mismatches(
    expected: list[Any], actual: Any, path: str, opts: dict[str, Any]
) -> list[str]:
    if not isinstance(actual, list):
        return [f"{path}: expected array, got {_kind(actual)}"]
    if expected and not actual and path not in opts["may_be_empty"]:
        return [f"{path}: empty, fixture has items"]
    template = expected[0] if expected else None
    return [m for item in actual for m in mismatches(template, item, f"{path}[]", **opts)]


def assert_conforms(expected: Any, actual: Any, **options: Any) -> None:
    problems = mismatches(expected, actual, **options)
    assert not problems, "\n".join(problems)


def test_the_comparison_itself_fails_on_drift() -> None:
    fixture = {"a": 1, "b": [{"c": "x"}], "d": None}
    assert mismatches(fixture, {"a": 2, "b": [{"c": "y"}], "d": 5}) == []
    assert mismatches(fixture, {"a": "1", "b": [{"c": "y"}], "d": 5}) == [
        "a: expected int, got str"
    ]
    assert mismatches(fixture, {"a": 1, "b": [{}], "d": 1}) == ["b[].c: missing"]
    assert mismatches(fixture, {"a": True, "b": [], "d": 1}) == [
        "a: expected int, got bool",
        "b: empty, fixture has items",
    ]


# --- helpers that build state through the API ---------------------------------------


def _date_field(amo: AmoSandbox) -> int:
    return amo.add_field("leads", {"name": "Дата встречи", "type": "date"})


def _lead_with_everything(amo: AmoSandbox, api: AmoApi) -> int:
    company = api("POST", "/api/v4/companies", json=[{"name": "ООО «Ромашка»"}]).json()
    company_id = company["_embedded"]["companies"][0]["id"]
    body = [
        {
            "name": "Тестовая сделка",
            "price": 25000,
            "custom_fields_values": [
                {"field_id": _date_field(amo), "values": [{"value": "2020-05-08"}]}
            ],
            "_embedded": {"tags": [{"name": "Тег для примера"}], "companies": [{"id": company_id}]},
        }
    ]
    created = api("POST", "/api/v4/leads", json=body)
    assert created.status_code == 200
    return int(created.json()["_embedded"]["leads"][0]["id"])


def _contact_with_phone(api: AmoApi, name: str = "Иван Иванов") -> int:
    phone = [{"field_code": "PHONE", "values": [{"value": "+79123", "enum_code": "WORK"}]}]
    body = [
        {"name": name, "first_name": "Иван", "last_name": "Иванов", "custom_fields_values": phone}
    ]
    reply = api("POST", "/api/v4/contacts", json=body)
    return int(reply.json()["_embedded"]["contacts"][0]["id"])


# --- JSON fixtures ------------------------------------------------------------------------


def test_lead_single(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = _lead_with_everything(amo, amo_api)
    reply = amo_api("GET", f"/api/v4/leads/{lead_id}")
    assert reply.headers["Content-Type"].startswith("application/hal+json")
    # Date values: the fixture's old revision shows a string, the sandbox answers Unix
    # seconds (reference §7.5 leaves it open; the client accepts both).
    loose = frozenset({"custom_fields_values[].values[].value"})
    assert_conforms(load("lead_single.json"), reply.json(), loose=loose)
    assert isinstance(reply.json()["custom_fields_values"][0]["values"][0]["value"], int)


def test_contacts_list_page(amo_api: AmoApi) -> None:
    reply = amo_api("GET", "/api/v4/contacts?limit=2")
    assert_conforms(load("contacts_list_page.json"), reply.json())


def test_contact_single(amo: AmoSandbox, amo_api: AmoApi) -> None:
    contact_id = _contact_with_phone(amo_api)
    company = amo_api("POST", "/api/v4/companies", json=[{"name": "ИП Петров"}]).json()
    company_id = company["_embedded"]["companies"][0]["id"]
    amo_api(
        "PATCH",
        f"/api/v4/contacts/{contact_id}",
        json={"_embedded": {"companies": [{"id": company_id}]}},
    )
    lead_id = amo.lead_ids()[0]
    linked = amo_api(
        "POST",
        f"/api/v4/leads/{lead_id}/link",
        json=[{"to_entity_id": contact_id, "to_entity_type": "contacts"}],
    )
    assert linked.status_code == 200
    reply = amo_api("GET", f"/api/v4/contacts/{contact_id}?with=leads,customers,catalog_elements")
    # The doc example names the value key "enum"; the SDK (and the sandbox) use "enum_code".
    assert_conforms(
        load("contact_single.json"),
        reply.json(),
        aliases={"enum": "enum_code"},
        may_be_empty=frozenset({"_embedded.customers"}),  # customers are not emulated
    )


def test_contacts_add_response(amo_api: AmoApi) -> None:
    reply = amo_api("POST", "/api/v4/contacts", json=[{"name": "Первый"}, {"name": "Второй"}])
    assert_conforms(load("contacts_add_response.json"), reply.json())
    assert [c["request_id"] for c in reply.json()["_embedded"]["contacts"]] == ["0", "1"]


def test_contacts_patch_response(amo_api: AmoApi) -> None:
    contact_id = _contact_with_phone(amo_api)
    reply = amo_api("PATCH", "/api/v4/contacts", json=[{"id": contact_id, "name": "Иван Петров"}])
    assert_conforms(load("contacts_patch_response.json"), reply.json())


def test_custom_field_select_created(amo_api: AmoApi) -> None:
    spec = {
        "name": "Client Type",
        "type": "select",
        "enums": [{"value": v} for v in ("New", "Regular", "VIP")],
    }
    reply = amo_api("POST", "/api/v4/leads/custom_fields", json=[spec])
    created = reply.json()["_embedded"]["custom_fields"][0]
    assert_conforms(load("custom_field_select_created.json"), created)


def test_pipelines_list(amo_api: AmoApi) -> None:
    assert_conforms(load("pipelines_list.json"), amo_api("GET", "/api/v4/leads/pipelines").json())


def test_leads_complex_add_response(amo_api: AmoApi) -> None:
    body = [
        {
            "name": "Сделка с контактом",
            "price": 1000,
            "request_id": "1",
            "_embedded": {
                "contacts": [{"first_name": "Пётр"}],
                "companies": [{"name": "ООО «Лес»"}],
            },
        }
    ]
    reply = amo_api("POST", "/api/v4/leads/complex", json=body)
    assert_conforms(load("leads_complex_add_response.json"), reply.json())
    assert reply.json()[0]["request_id"] == ["1"]


def test_leads_complex_add_response_merged(amo: AmoSandbox, amo_api: AmoApi) -> None:
    amo.store.duplicate_control = True
    email = [{"field_code": "EMAIL", "values": [{"value": "dup@example.ru"}]}]
    item = {
        "name": "Дубль",
        "_embedded": {
            "contacts": [{"name": "Дубль", "custom_fields_values": email}],
            "companies": [{"name": "ООО «Дубль»"}],
        },
    }
    first = amo_api("POST", "/api/v4/leads/complex", json=[{**item, "request_id": "1"}]).json()
    second = amo_api("POST", "/api/v4/leads/complex", json=[{**item, "request_id": "2"}]).json()
    assert_conforms(load("leads_complex_add_response_merged.json"), second)
    assert second[0]["merged"] is True and second[0]["id"] == first[0]["id"]


def test_lead_notes_list_page(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = amo.lead_ids()[0]
    notes = [{"note_type": "common", "params": {"text": f"Текст примечания {i}"}} for i in range(3)]
    assert amo_api("POST", f"/api/v4/leads/{lead_id}/notes", json=notes).status_code == 200
    reply = amo_api("GET", f"/api/v4/leads/{lead_id}/notes?limit=2")
    assert_conforms(load("lead_notes_list_page.json"), reply.json())


def test_notes_add_response(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = amo.lead_ids()[0]
    notes = [
        {"entity_id": lead_id, "note_type": "common", "params": {"text": str(i)}} for i in range(4)
    ]
    reply = amo_api("POST", "/api/v4/leads/notes", json=notes)
    assert_conforms(load("notes_add_response.json"), reply.json())


def test_events_list_page(amo: AmoSandbox, amo_api: AmoApi) -> None:
    amo.add_lead({"name": "Новая"})
    amo.add_lead({"name": "Ещё одна"})
    reply = amo_api("GET", "/api/v4/events?limit=1&filter[type]=lead_added")
    # value_after/value_before differ per event type; their shapes are checked below.
    loose = frozenset({"_embedded.events[].value_after", "_embedded.events[].value_before"})
    assert_conforms(load("events_list_page.json"), reply.json(), loose=loose)


def _only_event(api: AmoApi, kind: str) -> dict[str, Any]:
    events = api("GET", f"/api/v4/events?filter[type][]={kind}").json()["_embedded"]["events"]
    assert len(events) == 1
    return {"value_after": events[0]["value_after"], "value_before": events[0]["value_before"]}


def test_event_values_lead_status_changed(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = amo.lead_ids()[0]
    pipeline = amo.pipeline_id("Партнёрские лиды")
    amo_api(
        "PATCH", f"/api/v4/leads/{lead_id}", json={"status_id": amo.status_id(pipeline, "Договор")}
    )
    assert_conforms(
        load("event_values_lead_status_changed.json"), _only_event(amo_api, "lead_status_changed")
    )


def test_event_values_custom_field_value_changed(amo: AmoSandbox, amo_api: AmoApi) -> None:
    field_id = amo.field_id("Источник")  # an enum field: the fixture's values carry enum_id
    lead_id = amo.lead_ids()[0]
    patch = {"custom_fields_values": [{"field_id": field_id, "values": [{"value": "Сайт"}]}]}
    amo_api("PATCH", f"/api/v4/leads/{lead_id}", json=patch)
    expected = load("event_values_custom_field_value_changed.json")
    assert_conforms(expected, _only_event(amo_api, "custom_field_value_changed"))


# --- error fixtures ----------------------------------------------------------------------


def _problem(reply: Any, fixture: str) -> None:
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    expected = load(fixture)
    assert reply.status_code == expected["status"]
    assert_conforms(expected, reply.json())
    assert reply.json()["title"] == expected["title"]


def test_error_400_empty_request(amo_api: AmoApi) -> None:
    reply = amo_api("POST", "/api/v4/leads", json=[])
    _problem(reply, "error_400_empty_request.json")
    assert reply.json()["detail"] == "Request data can not be empty"


def test_error_400_validation(amo_api: AmoApi) -> None:
    body = [{"name": "x", "custom_fields_values": [{"field_id": 1, "values": [{"value": "a"}]}]}]
    reply = amo_api("POST", "/api/v4/leads", json=body)
    _problem(reply, "error_400_validation.json")
    error = reply.json()["validation-errors"][0]["errors"][0]
    assert error == {
        "code": "NotSupportedChoice",
        "path": "custom_fields_values.0.field_id",
        "detail": "The value you selected is not a valid choice.",
    }


def test_error_401_unauthorized(amo: AmoSandbox) -> None:
    api = AmoApi(amo, token="not-a-token")
    _problem(api("GET", "/api/v4/leads"), "error_401_unauthorized.json")
    api.close()


def test_error_402_payment_required(amo: AmoSandbox, amo_api: AmoApi) -> None:
    amo.payment_required = True
    _problem(amo_api("GET", "/api/v4/leads"), "error_402_payment_required.json")


def test_error_404_not_found(amo_api: AmoApi) -> None:
    reply = amo_api("GET", "/api/v4/example")
    _problem(reply, "error_404_not_found.json")
    assert reply.json()["detail"].startswith("Cannot GET http://127.0.0.1:")


def test_error_405_method_not_allowed(amo_api: AmoApi) -> None:
    _problem(amo_api("DELETE", "/api/v4/leads"), "error_405_method_not_allowed.json")


def test_error_422_limit_250(amo_api: AmoApi) -> None:
    reply = amo_api("POST", "/api/v4/leads", json=[{"name": str(i)} for i in range(251)])
    _problem(reply, "error_422_limit_250.json")
    assert reply.json()["detail"] == "Limit 250 per page"


def test_error_429_too_many_requests() -> None:
    with AmoSandbox(rate_limit=7) as amo:
        amo.clock.freeze()
        api = AmoApi(amo)
        replies = [api("GET", "/api/v4/account") for _ in range(8)]
        api.close()
    assert [r.status_code for r in replies] == [200] * 7 + [429]
    _problem(replies[-1], "error_429_too_many_requests.json")


def test_error_500_internal(amo: AmoSandbox, amo_api: AmoApi) -> None:
    amo.arm_internal_error()
    reply = amo_api("GET", "/api/v4/leads")
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.status_code == 500
    assert_conforms(load("error_500_internal.json"), reply.json())
    assert amo_api("GET", "/api/v4/leads").status_code == 200


# --- webhook fixtures ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "setting"),
    [("webhook_leads_update.txt", "update_lead"), ("webhook_leads_status.txt", "status_lead")],
)
def test_webhook_bodies(
    amo: AmoSandbox, amo_api: AmoApi, hook_receiver: HookReceiver, fixture: str, setting: str
) -> None:
    hook = {"destination": hook_receiver.url, "settings": [setting]}
    assert amo_api("POST", "/api/v4/webhooks", json=hook).status_code == 200
    text_field = amo.add_field("leads", {"name": "Some text field", "type": "text"})
    lead_id = amo.lead_ids()[0]
    pipeline = amo.pipeline_id("Партнёрские лиды")
    amo.update_lead(
        lead_id,
        {
            "status_id": amo.status_id(pipeline, "Договор"),
            "custom_fields_values": [{"field_id": text_field, "values": [{"value": "some text"}]}],
        },
    )
    (body,) = hook_receiver.wait_for(1)
    expected = parse((FIXTURES / fixture).read_text(encoding="utf-8"))
    actual = parse(body)
    assert_conforms(expected, actual)
    assert actual["account"]["subdomain"] == amo.subdomain
    assert hook_receiver.headers[0]["content-type"] == "application/x-www-form-urlencoded"
