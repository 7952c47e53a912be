"""Webhooks from the amoCRM sandbox to a local receiver: format, policies, disabling."""

from __future__ import annotations

from typing import Any

from bridge.phpform import parse
from bridge.sandbox.amocrm.account import AmoSandbox
from tests.sandbox.conftest import AmoApi, HookReceiver
from tests.sandbox.rows import lead_row

ALL = ["add_lead", "update_lead", "status_lead", "delete_lead", "note_lead"]


def _subscribe(api: AmoApi, url: str, settings: list[str]) -> dict[str, Any]:
    reply = api("POST", "/api/v4/webhooks", json={"destination": url, "settings": settings})
    assert reply.status_code == 200
    return dict(reply.json())


def test_bodies_are_fully_percent_encoded(
    amo: AmoSandbox, amo_api: AmoApi, hook_receiver: HookReceiver
) -> None:
    _subscribe(amo_api, hook_receiver.url, ["update_lead"])
    amo.update_lead(amo.lead_ids()[0], {"name": "Новое имя сделки"})
    (body,) = hook_receiver.wait_for(1)
    assert body.startswith("leads%5Bupdate%5D%5B0%5D%5Bid%5D=")  # as in the captured fixtures
    assert "Новое" not in body and "+" in body  # UTF-8 escaped, spaces as "+"
    assert parse(body)["leads"]["update"][0]["name"] == "Новое имя сделки"


def _received(receiver: HookReceiver, count: int) -> list[dict[str, Any]]:
    return [parse(body) for body in receiver.wait_for(count)]


def test_add_update_status_delete_and_note_are_posted_as_forms(
    amo: AmoSandbox, amo_api: AmoApi, hook_receiver: HookReceiver
) -> None:
    hook = _subscribe(amo_api, hook_receiver.url, ALL)
    assert hook["settings"] == ALL and hook["disabled"] is False
    created = amo_api("POST", "/api/v4/leads", json=[{"name": "Вебхук", "price": 100}])
    lead_id = created.json()["_embedded"]["leads"][0]["id"]
    amo.update_lead(lead_id, {"price": 200})
    pipeline = amo.pipeline_id("Партнёрские лиды")
    old_status = lead_row(amo, lead_id)["status_id"]
    amo.update_lead(lead_id, {"status_id": amo.status_id(pipeline, "Договор")})
    amo.add_note(lead_id, "Заметка")
    amo.delete_lead(lead_id)
    add, update, status, note, delete = _received(hook_receiver, 5)
    assert add["leads"]["add"][0]["name"] == "Вебхук"
    assert add["account"] == {
        "subdomain": "partner",
        "id": str(amo.account_id),
        "_links": {"self": amo.base_url},
    }
    assert update["leads"]["update"][0]["price"] == "200"
    assert set(status["leads"]) == {"update", "status"}
    assert status["leads"]["status"][0]["old_status_id"] == str(old_status)
    assert note["leads"]["note"][0]["note"]["text"] == "Заметка"
    assert delete["leads"]["delete"][0]["id"] == str(lead_id)
    assert all(
        h["content-type"] == "application/x-www-form-urlencoded" for h in hook_receiver.headers
    )
    assert all(h["user-agent"] == "amoCRM-WebHook-client/1.0" for h in hook_receiver.headers)


def test_only_subscribed_actions_are_sent(
    amo: AmoSandbox, amo_api: AmoApi, hook_receiver: HookReceiver
) -> None:
    _subscribe(amo_api, hook_receiver.url, ["status_lead"])
    lead_id = amo.lead_ids()[0]
    amo.update_lead(lead_id, {"price": 1})  # no stage change: nothing for this hook
    amo.update_lead(lead_id, {"status_id": 143, "pipeline_id": amo.pipeline_id("Партнёрские лиды")})
    assert amo.outbox.wait_idle(5)
    (body,) = _received(hook_receiver, 1)
    assert set(body["leads"]) == {"status"} and body["leads"]["status"][0]["status_id"] == "143"


def test_unsubscribe_stops_deliveries(
    amo: AmoSandbox, amo_api: AmoApi, hook_receiver: HookReceiver
) -> None:
    _subscribe(amo_api, hook_receiver.url, ["update_lead"])
    listed = amo_api("GET", "/api/v4/webhooks").json()["_embedded"]["webhooks"]
    assert [h["destination"] for h in listed] == [hook_receiver.url]
    reply = amo_api("DELETE", "/api/v4/webhooks", json={"destination": hook_receiver.url})
    assert reply.status_code == 204
    amo.update_lead(amo.lead_ids()[0], {"price": 5})
    assert amo.outbox.wait_idle(5)
    assert hook_receiver.bodies == [] and amo.outbox.deliveries == []
    assert amo_api("GET", "/api/v4/webhooks").status_code == 204


def test_duplicate_and_drop_policies(
    amo: AmoSandbox, amo_api: AmoApi, hook_receiver: HookReceiver
) -> None:
    _subscribe(amo_api, hook_receiver.url, ["update_lead"])
    lead_id = amo.lead_ids()[0]
    amo.outbox.policy.duplicate = 1.0
    amo.update_lead(lead_id, {"price": 10})
    first, second = hook_receiver.wait_for(2)
    assert first == second
    amo.outbox.policy.duplicate = 0.0
    amo.outbox.policy.drop = 1.0
    amo.update_lead(lead_id, {"price": 20})
    assert amo.outbox.wait_idle(5)
    assert amo.outbox.dropped == 1 and len(hook_receiver.bodies) == 2


def test_hook_is_disabled_after_repeated_failures(
    amo: AmoSandbox, amo_api: AmoApi, hook_receiver: HookReceiver
) -> None:
    _subscribe(amo_api, hook_receiver.url, ["update_lead"])
    amo.webhooks.disable_after = 3
    hook_receiver.status = 500
    lead_id = amo.lead_ids()[0]
    for price in range(1, 5):
        amo.update_lead(lead_id, {"price": price})
        assert amo.outbox.wait_idle(5)
    listed = amo_api("GET", "/api/v4/webhooks").json()["_embedded"]["webhooks"]
    assert listed[0]["disabled"] is True
    amo.update_lead(lead_id, {"price": 99})
    assert amo.outbox.wait_idle(5)
    assert len(hook_receiver.bodies) == 4  # nothing sent once disabled
    _subscribe(amo_api, hook_receiver.url, ["update_lead"])  # re-subscribing revives it
    hook_receiver.status = 200
    amo.update_lead(lead_id, {"price": 100})
    assert len(hook_receiver.wait_for(5)) == 5


def test_slow_endpoint_counts_as_failed(
    amo: AmoSandbox, amo_api: AmoApi, hook_receiver: HookReceiver
) -> None:
    _subscribe(amo_api, hook_receiver.url, ["update_lead"])
    assert amo.outbox.policy.timeout == 2.0  # amoCRM waits at most 2 s (reference §11.3)
    amo.outbox.policy.timeout = 0.2
    hook_receiver.delay = 0.5
    amo.update_lead(amo.lead_ids()[0], {"price": 3})
    assert amo.outbox.wait_idle(5)
    assert [d.status for d in amo.outbox.deliveries] == [None]
    assert len(amo.webhooks.hooks[hook_receiver.url]["failures"]) == 1


def test_bad_subscriptions_are_refused(amo_api: AmoApi) -> None:
    bad = [
        {"destination": "ftp://x", "settings": ["add_lead"]},
        {"destination": "https://x.example", "settings": ["explode_lead"]},
        {"destination": "https://x.example"},
    ]
    for body in bad:
        assert amo_api("POST", "/api/v4/webhooks", json=body).status_code == 400


def test_failed_deliveries_are_retried_on_the_sandbox_clock(
    amo: AmoSandbox, amo_api: AmoApi, hook_receiver: HookReceiver
) -> None:
    _subscribe(amo_api, hook_receiver.url, ["update_lead"])
    hook_receiver.status = 503
    amo.update_lead(amo.lead_ids()[0], {"price": 7})
    assert amo.outbox.wait_idle(5)
    assert amo.deliver_due_webhooks() == 0  # not yet due
    amo.clock.advance(300)
    assert amo.deliver_due_webhooks() == 1
    assert amo.outbox.wait_idle(5)  # the retry failed too
    hook_receiver.status = 200
    amo.clock.advance(900)
    assert amo.deliver_due_webhooks() == 1
    bodies = hook_receiver.wait_for(3)
    assert len(set(bodies)) == 1  # the same body, three attempts
    assert amo.outbox.wait_idle(5)
    amo.clock.advance(86400)
    assert amo.deliver_due_webhooks() == 0  # delivered: nothing left to retry
