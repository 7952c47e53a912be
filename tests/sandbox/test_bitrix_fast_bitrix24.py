"""fast-bitrix24 1.8.14, unmodified, against the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests
from fast_bitrix24 import Bitrix

from bridge.sandbox.bitrix.portal import BitrixSandbox
from bridge.sandbox.emulator import Fault, FaultKind
from tests.sandbox.rows import deal_row


@pytest.fixture(autouse=True)
def event_loop_for_sync_client() -> Iterator[None]:
    """fast-bitrix24's sync ``Bitrix`` runs on the thread's loop; give it one and close it."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture
def client(bitrix: BitrixSandbox) -> Bitrix:
    return Bitrix(bitrix.webhook_url, verbose=False)


def test_get_all_pages_through_more_than_fifty_deals(bitrix: BitrixSandbox, client: Bitrix) -> None:
    wanted = set(bitrix.seed_deals(120, category_id=0))
    bitrix.seed_deals(7, category_id=bitrix.add_category("Другая"))
    deals = client.get_all(
        "crm.deal.list", {"filter": {"CATEGORY_ID": 0}, "select": ["ID", "TITLE"]}
    )
    assert {d["ID"] for d in deals} == wanted
    assert len(deals) == 120
    # The first page came as one call, the other two pages in one batch.
    assert bitrix.server.calls.methods()["crm.deal.list"] == 3
    assert bitrix.server.calls.methods()["batch"] == 1


def test_get_all_unwraps_crm_item_list(bitrix: BitrixSandbox, client: Bitrix) -> None:
    ids = bitrix.seed_deals(75, category_id=0)
    items = client.get_all("crm.item.list", {"entityTypeId": 2, "select": ["id", "title"]})
    assert sorted(item["id"] for item in items) == sorted(int(i) for i in ids)


def test_get_all_filters_by_date_modify_with_the_quoted_operator(
    bitrix: BitrixSandbox, client: Bitrix
) -> None:
    bitrix.clock.freeze()
    bitrix.seed_deals(60, category_id=0)
    cutoff = bitrix.clock.now()
    bitrix.clock.advance(5)
    touched = [bitrix.add_deal({"TITLE": f"Свежая {n}"}) for n in range(55)]
    params = {"filter": {">DATE_MODIFY": cutoff.isoformat()}, "select": ["ID"]}
    deals = client.get_all("crm.deal.list", params)
    # The later pages travel inside batch command strings as filter[%3EDATE_MODIFY]=...
    assert sorted(d["ID"] for d in deals) == sorted(touched)


def test_call_add_returns_the_bare_id(bitrix: BitrixSandbox, client: Bitrix) -> None:
    fields = {"TITLE": "Интернет-магазин", "OPPORTUNITY": "150000.50", "CURRENCY_ID": "RUB"}
    deal_id = client.call("crm.deal.add", {"fields": fields})
    deal = bitrix.get_deal(str(deal_id))
    assert deal is not None
    assert deal["TITLE"] == "Интернет-магазин"
    assert deal["OPPORTUNITY"] == "150000.50"


def test_call_update_many_goes_through_one_batch(bitrix: BitrixSandbox, client: Bitrix) -> None:
    ids = bitrix.seed_deals(3, category_id=0)
    updates = [{"id": i, "fields": {"COMMENTS": f"Комментарий {i}"}} for i in ids]
    assert client.call("crm.deal.update", updates) == (True, True, True)
    assert [deal_row(bitrix, i)["COMMENTS"] for i in ids] == [f"Комментарий {i}" for i in ids]
    assert bitrix.server.calls.methods()["batch"] == 1


def test_raw_call_returns_the_whole_envelope(bitrix: BitrixSandbox, client: Bitrix) -> None:
    bitrix.seed_deals(60, category_id=0)
    reply = client.call("crm.deal.list", {"start": -1, "order": {"ID": "ASC"}}, raw=True)
    assert len(reply["result"]) == 50
    assert reply["total"] == 0
    assert "next" not in reply
    assert set(reply["time"]) >= {"start", "finish", "operating", "operating_reset_at"}


def test_call_batch_chains_results(bitrix: BitrixSandbox, client: Bitrix) -> None:
    result = client.call_batch(
        {
            "halt": 1,
            "cmd": {
                "deal": "crm.deal.add?fields[TITLE]=Сайт под ключ",
                "read": "crm.deal.get?id=$result[deal]",
            },
        }
    )
    assert result["read"]["ID"] == str(result["deal"])
    assert result["read"]["TITLE"] == "Сайт под ключ"


def test_get_by_id(bitrix: BitrixSandbox, client: Bitrix) -> None:
    ids = bitrix.seed_deals(3, category_id=0)
    found = client.get_by_ID("crm.deal.get", ids)
    assert {str(k) for k in found} == set(ids)
    assert all(found[k]["ID"] == str(k) for k in found)


def test_rate_limited_client_retries_503_and_finishes() -> None:
    with BitrixSandbox(seed="empty") as sandbox:
        sandbox.set_rate_limit(2, 10.0)
        ids = sandbox.seed_deals(10, category_id=0)
        fast = Bitrix(sandbox.webhook_url, verbose=False)
        replies = [fast.call("crm.deal.get", {"id": i}, raw=True) for i in ids[:6]]
        assert [reply["result"]["ID"] for reply in replies] == ids[:6]
        assert len(fast.get_by_ID("crm.deal.get", ids)) == 10
        statuses = sandbox.server.calls.statuses()
        assert statuses.get(503, 0) > 0  # refused before running, then retried by the client
        assert statuses[200] == 7


def test_server_errors_are_retried_by_the_client(bitrix: BitrixSandbox, client: Bitrix) -> None:
    bitrix.server.faults.arm(
        Fault(FaultKind.SERVER_ERROR, times=2, status=502, method="crm.deal.add")
    )
    deal_id = client.call("crm.deal.add", {"fields": {"TITLE": "После сбоя"}}, raw=True)["result"]
    assert bitrix.deal_ids() == [str(deal_id)]
    assert bitrix.server.calls.statuses() == {502: 2, 200: 1}


def test_a_lost_response_after_commit_duplicates_a_retried_add(
    bitrix: BitrixSandbox, client: Bitrix
) -> None:
    """Why writes must be idempotent: the add ran, the answer was lost, the client re-sent it."""
    bitrix.server.faults.arm(Fault(FaultKind.DROP_AFTER_COMMIT, method="batch"))
    client.call("crm.deal.add", {"fields": {"TITLE": "Дубль", "ORIGIN_ID": "x-1"}})
    titles = [deal_row(bitrix, i)["TITLE"] for i in bitrix.deal_ids()]
    assert titles == ["Дубль", "Дубль"]


def test_cli_serves_until_interrupted() -> None:
    command = [sys.executable, "-c", "from sync.cli.main import app; app()", "sandbox", "bitrix24"]
    command += ["--seed", "demo", "--secret", "cli-secret"]
    # Without PYTHONUNBUFFERED the banner must still arrive: the CLI flushes it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            _check_cli_output(process)
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0


def _check_cli_output(process: subprocess.Popen[str]) -> None:
    stdout = process.stdout
    assert stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(stdout.readline() for _ in range(2)))
    reader.daemon = True
    reader.start()
    reader.join(timeout=15)
    assert len(lines) == 2, "the banner never arrived"
    url = lines[0].rsplit(" ", 1)[-1].strip()
    assert url.startswith("http://127.0.0.1:") and url.endswith("/rest/1/cli-secret/")
    assert "sandbox-app-token" in lines[1]
    reply = requests.post(url + "crm.deal.list", json={"start": -1}, timeout=5)
    assert len(reply.json()["result"]) == 36


def test_oauth_client_refreshes_after_expired_token(bitrix: BitrixSandbox) -> None:
    oauth = bitrix.enable_oauth()
    secret = {"client_id": "local.sandbox", "client_secret": "sandbox-client-secret"}
    code = oauth.authorization_code(user_id=1)
    first = requests.get(
        bitrix.oauth_token_url,
        params={**secret, "grant_type": "authorization_code", "code": code},
        timeout=5,
    ).json()
    tokens = {"refresh": first["refresh_token"], "issued": 0}
    pending: list[str] = [first["access_token"]]

    async def token_func() -> str:
        if pending:
            return pending.pop()
        params = {**secret, "grant_type": "refresh_token", "refresh_token": tokens["refresh"]}
        fresh = requests.get(bitrix.oauth_token_url, params=params, timeout=5).json()
        tokens["refresh"] = fresh["refresh_token"]
        tokens["issued"] += 1
        return str(fresh["access_token"])

    client = Bitrix(bitrix.rest_url, token_func=token_func, verbose=False)
    assert client.call("crm.deal.add", {"fields": {"TITLE": "По OAuth"}}) == 1
    bitrix.clock.advance(3601)  # the access token expires; the next call gets 401 expired_token
    assert client.call("crm.deal.get", {"id": 1}, raw=True)["result"]["TITLE"] == "По OAuth"
    assert tokens["issued"] == 1
    # Two REST answers, one refused call, two token answers (the OAuth server shares the port).
    assert bitrix.server.calls.statuses() == {200: 4, 401: 1}


def test_oauth_errors(bitrix: BitrixSandbox) -> None:
    oauth = bitrix.enable_oauth()
    secret = {"client_id": "local.sandbox", "client_secret": "sandbox-client-secret"}
    code = oauth.authorization_code(user_id=1)
    bitrix.clock.advance(31)  # codes live 30 s
    late = requests.get(
        bitrix.oauth_token_url,
        params={**secret, "grant_type": "authorization_code", "code": code},
        timeout=5,
    )
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")
    wrong = requests.get(
        bitrix.oauth_token_url,
        params={**secret, "client_secret": "x", "grant_type": "x"},
        timeout=5,
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    unknown = requests.post(bitrix.rest_url + "crm.deal.list", json={"auth": "nope"}, timeout=5)
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_token")
    bare = requests.post(bitrix.rest_url + "crm.deal.list", json={}, timeout=5)
    assert (bare.status_code, bare.json()["error"]) == (401, "NO_AUTH_FOUND")
