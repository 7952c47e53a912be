"""Test controls of the amoCRM sandbox: faults by API method, call counts, outbox order."""

from __future__ import annotations

import pytest
import requests

from bridge.phpform import parse
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.emulator import Fault, FaultKind
from tests.sandbox.conftest import AmoApi, HookReceiver


def test_faults_match_templated_api_methods(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = amo.lead_ids()[0]
    assert amo.app.api_method_of("GET", f"/api/v4/leads/{lead_id}") == "get /api/v4/leads/{id}"
    amo.server.faults.arm(
        Fault(FaultKind.SERVER_ERROR, times=2, status=502, method="get /api/v4/leads/{id}")
    )
    statuses = [amo_api("GET", f"/api/v4/leads/{lead_id}").status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert amo_api("GET", "/api/v4/leads").status_code == 200  # other methods untouched


def test_a_lost_response_still_committed_the_write(amo: AmoSandbox, amo_api: AmoApi) -> None:
    before = len(amo.lead_ids())
    amo.server.faults.arm(Fault(FaultKind.DROP_AFTER_COMMIT, method="post /api/v4/leads"))
    with pytest.raises(requests.ConnectionError):
        amo_api("POST", "/api/v4/leads", json=[{"name": "Потерянный ответ"}])
    assert len(amo.lead_ids()) == before + 1
    found = amo_api("GET", "/api/v4/leads", params={"query": "Потерянный ответ"}).json()
    assert len(found["_embedded"]["leads"]) == 1


def test_calls_are_counted_by_method(amo: AmoSandbox, amo_api: AmoApi) -> None:
    amo.server.calls.reset()
    amo_api("GET", "/api/v4/leads")
    amo_api("GET", "/api/v4/leads/pipelines")
    assert amo.server.calls.requests == 2
    assert amo.server.calls.statuses() == {200: 2}


def test_reorder_policy_delivers_out_of_order(
    amo: AmoSandbox, amo_api: AmoApi, hook_receiver: HookReceiver
) -> None:
    hook = {"destination": hook_receiver.url, "settings": ["update_lead"]}
    amo_api("POST", "/api/v4/webhooks", json=hook)
    lead_id = amo.lead_ids()[0]
    amo.outbox.policy.reorder = 1.0
    amo.update_lead(lead_id, {"price": 1})  # held back
    amo.outbox.policy.reorder = 0.0
    amo.update_lead(lead_id, {"price": 2})  # sent, then the held one
    bodies = hook_receiver.wait_for(2)
    prices = [parse(b)["leads"]["update"][0]["price"] for b in bodies]
    assert prices == ["2", "1"]
