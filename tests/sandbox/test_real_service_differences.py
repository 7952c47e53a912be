"""Four behaviours where third-party clients saw the sandboxes differ from the real services.

Each test states the real behaviour (reference: ../shared/reference/amocrm.md,
bitrix24.md, PHP's ``php_register_variable_ex``, a real ``GET /api/v4/leads/{id}``
answer) and checks the sandbox does the same.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import requests

from bridge.sandbox.amocrm.account import DEFAULT_REDIRECT, AmoSandbox, cli_sandbox
from bridge.sandbox.bitrix.portal import BitrixSandbox
from tests.sandbox.conftest import AmoApi, BitrixApi

REGISTERED = "https://bridge.example/oauth/amocrm/callback"


def _consent(amo: AmoSandbox) -> requests.Response:
    return requests.get(amo.consent_url(state="s1"), allow_redirects=False, timeout=5)


# --- 1. amoCRM consent without redirect_uri: the integration's registered one is used ------
def test_consent_without_redirect_uri_uses_the_registered_one() -> None:
    with AmoSandbox(rate_limit=None, redirect_uri=REGISTERED) as amo:
        reply = _consent(amo)
        assert reply.status_code == 302, reply.text
        location = urlsplit(reply.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REGISTERED
        query = parse_qs(location.query)
        assert query["state"] == ["s1"]
        body = {
            "client_id": amo.client_id,
            "client_secret": amo.client_secret,
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REGISTERED,
        }
        grant = requests.post(f"{amo.base_url}/oauth2/access_token", json=body, timeout=5)
        assert grant.status_code == 200, grant.text
        assert grant.json()["token_type"] == "Bearer"


def test_the_sandbox_cli_registers_a_redirect_uri() -> None:
    for given, expected in ((None, DEFAULT_REDIRECT), (REGISTERED, REGISTERED)):
        options = {"token": None, "client_id": None, "client_secret": None}
        amo = cli_sandbox(seed="empty", subdomain="p", port=0, redirect_uri=given, **options)
        with amo:
            reply = _consent(amo)
            assert reply.status_code == 302, reply.text
            assert reply.headers["Location"].startswith(expected + "?")


# --- 2. amoCRM lists take several order[...] keys ------------------------------------------
def test_several_order_keys_sort_by_each_in_turn(amo_api: AmoApi) -> None:
    amo = amo_api.sandbox
    created = [{"name": f"Сделка {i}", "price": 100 * i, "pipeline_id": None} for i in range(1, 6)]
    pipeline = amo_api("GET", "/api/v4/leads/pipelines").json()["_embedded"]["pipelines"][0]
    for lead in created:
        lead["pipeline_id"] = pipeline["id"]
    ids = [
        x["id"] for x in amo_api("POST", "/api/v4/leads", json=created).json()["_embedded"]["leads"]
    ]
    amo.clock.advance(60)
    amo_api("PATCH", f"/api/v4/leads/{ids[0]}", json={"name": "later"})  # newest updated_at
    for direction in ("asc", "desc"):
        reply = amo_api(
            "GET",
            f"/api/v4/leads?order[updated_at]={direction}&order[id]={direction}&limit=250",
        )
        assert reply.status_code == 200, reply.text
        leads = reply.json()["_embedded"]["leads"]
        keys = [(lead["updated_at"], lead["id"]) for lead in leads]
        assert keys == sorted(keys, reverse=direction == "desc")
        assert (leads[-1]["id"] if direction == "asc" else leads[0]["id"]) == ids[0]
    refused = amo_api("GET", "/api/v4/leads?order[updated_at]=asc&order[price]=asc")
    assert refused.status_code == 400


# --- 3. amoCRM GET /api/v4/leads/{id}?with=contacts: the _embedded.contacts shape ----------
def test_a_lead_with_contacts_embeds_id_is_main_links_in_that_order(amo_api: AmoApi) -> None:
    contact = amo_api("POST", "/api/v4/contacts", json=[{"name": "Иван"}]).json()
    contact_id = contact["_embedded"]["contacts"][0]["id"]
    lead = amo_api(
        "POST",
        "/api/v4/leads",
        json=[{"name": "С контактом", "_embedded": {"contacts": [{"id": contact_id}]}}],
    ).json()["_embedded"]["leads"][0]
    reply = amo_api("GET", f"/api/v4/leads/{lead['id']}?with=contacts")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/hal+json")
    (embedded,) = json.loads(reply.text)["_embedded"]["contacts"]  # keeps the wire order
    # A real answer: {"id": 42015703, "is_main": true, "_links": {"self": {"href": "…"}}}
    assert list(embedded) == ["id", "is_main", "_links"]
    assert embedded["id"] == contact_id and embedded["is_main"] is True
    assert embedded["_links"] == {
        "self": {"href": f"{amo_api.sandbox.base_url}/api/v4/contacts/{contact_id}"}
    }
    plain = amo_api("GET", f"/api/v4/leads/{lead['id']}").json()
    assert "contacts" not in plain["_embedded"]  # only with with=contacts


# --- 4. Bitrix24 form keys PHP's parse_str rewrites ----------------------------------------
def test_raw_equals_and_odd_keys_are_read_as_php_reads_them(bitrix_demo_api: BitrixApi) -> None:
    everything = bitrix_demo_api.result("crm.deal.list", {"select": ["ID"]})
    assert everything, "the demo portal has deals"
    # Sent raw, the key ends at its first '=': PHP sees "filter_>" = "DATE_MODIFY]=2026-01-01",
    # an unknown parameter — the portal answers with the unfiltered list, not an error.
    raw = bitrix_demo_api("crm.deal.list", form="filter[>=DATE_MODIFY]=2099-01-01&select[]=ID")
    assert raw.status_code == 200, raw.text
    assert [d["ID"] for d in raw.json()["result"]] == [d["ID"] for d in everything]
    # Encoded, the same filter works (and nothing is modified in 2099).
    encoded = bitrix_demo_api(
        "crm.deal.list", form="filter%5B%3E%3DDATE_MODIFY%5D=2099-01-01&select[]=ID"
    )
    assert encoded.status_code == 200 and encoded.json()["result"] == []
    # Dots and spaces in a name become '_'; text after ']' is dropped; '[ ]' appends.
    odd = bitrix_demo_api("crm.deal.list", form="select[ ]=ID&select[]x=TITLE&order.x=1")
    assert odd.status_code == 200, odd.text
    assert set(odd.json()["result"][0]) == {"ID", "TITLE"}


def test_batch_commands_are_parsed_as_php_too(bitrix: BitrixSandbox) -> None:
    api = BitrixApi(bitrix)
    try:
        reply = api(
            "batch",
            {"halt": 0, "cmd": {"a": "crm.deal.list?filter[>=DATE_MODIFY]=2099-01-01&select[]=ID"}},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"]["result_error"] == []
    finally:
        api.close()
