"""Outbound ONCRM* events: form-encoded, thin, never retried, and mangled on request."""

from __future__ import annotations

from typing import Any

import requests

from bridge.phpform import parse
from bridge.sandbox.bitrix.portal import BitrixSandbox
from tests.sandbox.conftest import BitrixApi, HookReceiver
from tests.sandbox.rows import deal_row

WEBHOOK_AUTH = {"domain", "client_endpoint", "server_endpoint", "member_id", "application_token"}


def _events(hooks: HookReceiver, count: int) -> list[dict[str, Any]]:
    bodies = hooks.wait_for(count)
    assert len(bodies) == count, bodies
    return [parse(body) for body in bodies]


def test_deal_add_posts_a_thin_form_encoded_event(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi, hook_receiver: HookReceiver
) -> None:
    bitrix.register_event_handler("OnCrmDealAdd", hook_receiver.url)
    deal_id = bitrix_api.result("crm.deal.add", {"fields": {"TITLE": "Сайт"}})
    (event,) = _events(hook_receiver, 1)
    assert hook_receiver.headers[0]["content-type"] == "application/x-www-form-urlencoded"
    assert event["event"] == "ONCRMDEALADD"
    assert event["data"] == {"FIELDS": {"ID": str(deal_id)}}
    assert set(event["auth"]) == WEBHOOK_AUTH
    assert event["auth"]["application_token"] == bitrix.application_token
    assert event["auth"]["client_endpoint"] == f"{bitrix.server.base_url}/rest/"
    assert len(event["auth"]["member_id"]) == 32
    assert abs(int(event["ts"]) - bitrix.clock.time()) < 5


def test_event_bind_get_unbind(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi, hook_receiver: HookReceiver
) -> None:
    bind = {"event": "ONCRMDEALUPDATE", "handler": hook_receiver.url}
    assert bitrix_api.result("event.bind", bind) is True
    assert bitrix_api("event.bind", bind).status_code == 400  # the same pair twice
    assert bitrix_api.result("event.get") == [
        {"event": "ONCRMDEALUPDATE", "handler": hook_receiver.url, "auth_type": "0", "offline": 0}
    ]
    deal_id = bitrix.add_deal({"TITLE": "Сайт"})
    bitrix.update_deal(deal_id, {"TITLE": "Сайт 2"})
    assert _events(hook_receiver, 1)[0]["data"]["FIELDS"]["ID"] == deal_id
    assert bitrix_api.result("event.unbind", bind) == {"count": 1}
    bitrix.update_deal(deal_id, {"TITLE": "Сайт 3"})
    assert bitrix.outbox.wait_idle()
    assert len(hook_receiver.bodies) == 1


def test_direct_changes_fire_events_but_bulk_seeding_does_not(
    bitrix: BitrixSandbox, hook_receiver: HookReceiver
) -> None:
    for name in ("ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE"):
        bitrix.register_event_handler(name, hook_receiver.url)
    bitrix.seed_deals(20, category_id=0)
    deal_id = bitrix.add_deal({"TITLE": "Сайт"})
    bitrix.update_deal(deal_id, {"STAGE_ID": "EXECUTING"})
    bitrix.delete_deal(deal_id)
    events = _events(hook_receiver, 3)
    assert sorted(e["event"] for e in events) == [
        "ONCRMDEALADD",
        "ONCRMDEALDELETE",
        "ONCRMDEALUPDATE",
    ]
    assert {e["data"]["FIELDS"]["ID"] for e in events} == {deal_id}
    assert bitrix.outbox.wait_idle()
    assert len(hook_receiver.bodies) == 3


def test_pipeline_move_fires_only_move_to_category(
    bitrix_demo: BitrixSandbox, bitrix_demo_api: BitrixApi, hook_receiver: HookReceiver
) -> None:
    for name in ("ONCRMDEALUPDATE", "ONCRMDEALMOVETOCATEGORY"):
        bitrix_demo.register_event_handler(name, hook_receiver.url)
    deal_id = bitrix_demo.add_deal({"TITLE": "Сайт"})
    params = {"entityTypeId": 2, "id": deal_id, "fields": {"categoryId": 1}}
    bitrix_demo_api.result("crm.item.update", params)
    (event,) = _events(hook_receiver, 1)
    assert event["event"] == "ONCRMDEALMOVETOCATEGORY"
    assert event["data"]["FIELDS"] == {"ID": deal_id, "CATEGORY_ID": "1", "STAGE_ID": "C1:NEW"}
    assert bitrix_demo.outbox.wait_idle()
    assert len(hook_receiver.bodies) == 1


def test_batch_writes_fire_one_event_each(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi, hook_receiver: HookReceiver
) -> None:
    bitrix.register_event_handler("ONCRMDEALADD", hook_receiver.url)
    cmd = {f"c{n}": f"crm.deal.add?fields[TITLE]=Сделка {n}" for n in range(5)}
    bitrix_api.result("batch", {"cmd": cmd})
    assert len(_events(hook_receiver, 5)) == 5


def test_failed_delivery_is_not_retried(bitrix: BitrixSandbox, hook_receiver: HookReceiver) -> None:
    hook_receiver.status = 500
    bitrix.register_event_handler("ONCRMDEALADD", hook_receiver.url)
    bitrix.add_deal({"TITLE": "Сайт"})
    assert bitrix.outbox.wait_idle()
    assert [d.status for d in bitrix.outbox.deliveries] == [500]
    assert len(hook_receiver.bodies) == 1


def test_dropped_and_duplicated_events(bitrix: BitrixSandbox, hook_receiver: HookReceiver) -> None:
    bitrix.register_event_handler("ONCRMDEALADD", hook_receiver.url)
    bitrix.outbox.policy.drop = 1.0
    bitrix.add_deal({"TITLE": "Потерянная"})
    assert bitrix.outbox.wait_idle()
    assert bitrix.outbox.dropped == 1
    assert hook_receiver.bodies == []
    bitrix.outbox.policy.drop = 0.0
    bitrix.outbox.policy.duplicate = 1.0
    deal_id = bitrix.add_deal({"TITLE": "Дважды"})
    events = _events(hook_receiver, 2)
    assert [e["data"]["FIELDS"]["ID"] for e in events] == [deal_id, deal_id]


def test_reordered_events(bitrix: BitrixSandbox, hook_receiver: HookReceiver) -> None:
    bitrix.register_event_handler("ONCRMDEALADD", hook_receiver.url)
    bitrix.outbox.policy.reorder = 1.0
    first = bitrix.add_deal({"TITLE": "Первая"})
    bitrix.outbox.policy.reorder = 0.0
    second = bitrix.add_deal({"TITLE": "Вторая"})
    events = _events(hook_receiver, 2)
    assert [e["data"]["FIELDS"]["ID"] for e in events] == [second, first]


def test_event_timestamps_follow_the_sandbox_clock(
    bitrix: BitrixSandbox, hook_receiver: HookReceiver
) -> None:
    bitrix.clock.freeze()
    bitrix.clock.advance(86400)
    bitrix.register_event_handler("ONCRMDEALADD", hook_receiver.url)
    bitrix.add_deal({"TITLE": "Завтра"})
    (event,) = _events(hook_receiver, 1)
    assert event["ts"] == str(int(bitrix.clock.time()))


def test_unknown_event_is_refused(bitrix_api: BitrixApi) -> None:
    reply = bitrix_api(
        "event.bind", {"event": "ONCRMDEALTELEPORT", "handler": "http://127.0.0.1:9/"}
    )
    assert reply.status_code == 400
    assert reply.json() == {
        "error": "ERROR_EVENT_NOT_FOUND",
        "error_description": "Event not found",
    }


# ---- offline queue -----------------------------------------------------------------------


def _bind_offline(api: BitrixApi, event: str, connector: str = "") -> None:
    params = {"event": event, "event_type": "offline", "auth_connector": connector}
    assert api.result("event.bind", params) is True


def test_offline_queue_coalesces_per_deal(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    _bind_offline(bitrix_api, "ONCRMDEALUPDATE")
    bitrix.clock.freeze()
    first, second = bitrix.add_deal({"TITLE": "A"}), bitrix.add_deal({"TITLE": "B"})
    for n in range(5):
        bitrix.clock.advance(1)
        bitrix.update_deal(first, {"TITLE": f"A{n}"})
    bitrix.update_deal(second, {"TITLE": "B1"})
    got = bitrix_api.result("event.offline.get")
    assert got["process_id"] is None
    assert [e["EVENT_DATA"]["FIELDS"]["ID"] for e in got["events"]] == [first, second]
    assert bitrix_api.result("event.offline.get")["events"] == []  # clear=1 removed them


def test_offline_reserve_confirm_and_error(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    _bind_offline(bitrix_api, "ONCRMDEALADD")
    ids = [bitrix.add_deal({"TITLE": str(n)}) for n in range(3)]
    reserved = bitrix_api.result("event.offline.get", {"clear": 0, "limit": 2})
    assert len(reserved["process_id"]) == 32
    messages = [e["MESSAGE_ID"] for e in reserved["events"]]
    # Reserved records are hidden from other readers.
    other = bitrix_api.result("event.offline.get", {"clear": 0})
    assert [e["EVENT_DATA"]["FIELDS"]["ID"] for e in other["events"]] == [ids[2]]
    error = {"process_id": reserved["process_id"], "message_id": messages[1:]}
    assert bitrix_api.result("event.offline.error", error) is True
    clear = {"process_id": reserved["process_id"], "message_id": messages[:1]}
    assert bitrix_api.result("event.offline.clear", clear) is True
    listed = bitrix_api.result("event.offline.list")
    assert [(row["MESSAGE_ID"], row["ERROR"]) for row in listed] == [("3", "0"), ("2", "1")]
    failed = bitrix_api.result("event.offline.get", {"error": 1})["events"]
    assert [e["MESSAGE_ID"] for e in failed] == ["2"]


def test_auth_connector_suppresses_own_writes(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    _bind_offline(bitrix_api, "ONCRMDEALUPDATE", connector="bridge")
    own, theirs = bitrix.add_deal({"TITLE": "A"}), bitrix.add_deal({"TITLE": "B"})
    bitrix_api.result(
        "crm.deal.update", {"id": own, "fields": {"TITLE": "A2"}, "auth_connector": "bridge"}
    )
    bitrix.update_deal(theirs, {"TITLE": "B2"})
    assert bitrix_api.result("event.offline.get")["events"] == []  # no connector: other queue
    got = bitrix_api.result("event.offline.get", {"auth_connector": "bridge"})["events"]
    assert [e["EVENT_DATA"]["FIELDS"]["ID"] for e in got] == [theirs]


def test_a_person_moving_a_deal_to_another_pipeline(
    bitrix_demo: BitrixSandbox, hook_receiver: HookReceiver
) -> None:
    bitrix_demo.register_event_handler("ONCRMDEALMOVETOCATEGORY", hook_receiver.url)
    deal_id = bitrix_demo.add_deal({"TITLE": "Сайт"})
    bitrix_demo.update_deal(deal_id, {"CATEGORY_ID": 1, "STAGE_ID": "C1:PREPARATION"})
    (event,) = _events(hook_receiver, 1)
    assert event["data"]["FIELDS"] == {
        "ID": deal_id,
        "CATEGORY_ID": "1",
        "STAGE_ID": "C1:PREPARATION",
    }
    assert deal_row(bitrix_demo, deal_id)["STAGE_ID"] == "C1:PREPARATION"


def test_app_events_carry_a_usable_access_token(
    bitrix: BitrixSandbox, hook_receiver: HookReceiver
) -> None:
    code = bitrix.enable_oauth().authorization_code(user_id=1)
    secret = {"client_id": "local.sandbox", "client_secret": "sandbox-client-secret"}
    params = {**secret, "grant_type": "authorization_code", "code": code}
    token = requests.get(bitrix.oauth_token_url, params=params, timeout=5).json()["access_token"]
    bind = {"event": "ONCRMDEALADD", "handler": hook_receiver.url, "auth": token}
    assert requests.post(bitrix.rest_url + "event.bind", json=bind, timeout=5).json()["result"]
    deal_id = bitrix.add_deal({"TITLE": "Из события"})
    (event,) = _events(hook_receiver, 1)
    auth = event["auth"]
    assert auth["user_id"] == "1" and auth["expires_in"] == "3600"
    url = auth["client_endpoint"] + "crm.deal.get"
    reply = requests.post(url, json={"id": deal_id, "auth": auth["access_token"]}, timeout=5)
    assert reply.json()["result"]["TITLE"] == "Из события"


def test_strict_portal_refuses_event_binding_through_a_webhook(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi
) -> None:
    bitrix.app.app_only_methods_need_oauth = True
    reply = bitrix_api("event.bind", {"event": "ONCRMDEALADD", "handler": "http://127.0.0.1:9/"})
    assert reply.status_code == 403
    assert reply.json()["error"] == "WRONG_AUTH_TYPE"
    assert bitrix_api("event.offline.get").status_code == 403
    assert bitrix_api("crm.deal.list").status_code == 200
