"""The leaky bucket (503 QUERY_LIMIT_EXCEEDED), the operating-time limit (429)
and the ``time`` block, on the sandbox clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aiohttp
import pytest
from fast_bitrix24 import Bitrix

from bridge.sandbox.bitrix.portal import BitrixSandbox
from tests.sandbox.conftest import BitrixApi

TIME_KEYS = {
    "start",
    "finish",
    "duration",
    "processing",
    "date_start",
    "date_finish",
    "operating_reset_at",
    "operating",
}


@pytest.fixture(autouse=True)
def event_loop_for_sync_client() -> Iterator[None]:
    """fast-bitrix24's sync ``Bitrix`` runs on the thread's loop; give it one and close it."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture
def limited() -> Iterator[tuple[BitrixSandbox, BitrixApi]]:
    with BitrixSandbox(seed="empty") as sandbox:
        sandbox.clock.freeze()
        api = BitrixApi(sandbox)
        yield sandbox, api
        api.close()


def _statuses(api: BitrixApi, count: int, method: str = "server.time") -> list[int]:
    return [api(method).status_code for _ in range(count)]


def test_bucket_refuses_above_the_burst_and_drains_with_the_clock(
    limited: tuple[BitrixSandbox, BitrixApi],
) -> None:
    sandbox, api = limited
    sandbox.set_rate_limit(5, 1.0)
    assert _statuses(api, 6) == [200] * 5 + [503]
    refused = api("server.time")
    assert refused.json() == {
        "error": "QUERY_LIMIT_EXCEEDED",
        "error_description": "Too many requests",
    }
    assert refused.headers["Content-Type"].startswith("application/json")
    sandbox.clock.advance(1.0)
    assert _statuses(api, 2) == [200, 503]
    sandbox.clock.advance(10.0)
    assert _statuses(api, 6) == [200] * 5 + [503]
    assert sandbox.server.calls.statuses() == {200: 11, 503: 4}


def test_standard_plan_is_fifty_burst(limited: tuple[BitrixSandbox, BitrixApi]) -> None:
    _, api = limited
    assert _statuses(api, 51) == [200] * 50 + [503]


def test_enterprise_plan_is_two_hundred_fifty_at_five_per_second() -> None:
    with BitrixSandbox(plan="enterprise") as sandbox:
        sandbox.clock.freeze()
        assert (sandbox.bucket.burst, sandbox.bucket.per_second) == (250, 5.0)
        for _ in range(250):
            sandbox.bucket.admit()
        api = BitrixApi(sandbox)
        assert api("server.time").status_code == 503
        sandbox.clock.advance(1.0)
        assert _statuses(api, 6) == [200] * 5 + [503]
        api.close()


def test_a_batch_is_one_request(limited: tuple[BitrixSandbox, BitrixApi]) -> None:
    sandbox, api = limited
    sandbox.set_rate_limit(2, 1.0)
    cmd = {f"c{n}": "server.time" for n in range(50)}
    assert api("batch", {"cmd": cmd}).status_code == 200
    assert api("batch", {"cmd": cmd}).status_code == 200
    assert api("batch", {"cmd": cmd}).status_code == 503


def test_bucket_recovers_in_real_time() -> None:
    with BitrixSandbox(seed="empty") as sandbox:
        sandbox.set_rate_limit(2, 20.0)
        api = BitrixApi(sandbox)
        statuses = _statuses(api, 4)
        assert 503 in statuses
        deadline = time.monotonic() + 2.0
        while api("server.time").status_code != 200:
            assert time.monotonic() < deadline, "the bucket never drained"
        api.close()


def test_rate_limit_can_be_off(bitrix_api: BitrixApi) -> None:
    assert set(_statuses(bitrix_api, 80)) == {200}


def test_operating_limit_blocks_only_the_expensive_method(
    limited: tuple[BitrixSandbox, BitrixApi],
) -> None:
    sandbox, api = limited
    sandbox.set_operating_limit(10.0, costs={"crm.deal.list": 4.0})
    started = int(sandbox.clock.time())
    operating = [api("crm.deal.list").json()["time"]["operating"] for _ in range(3)]
    assert operating == [4.0, 8.0, 12.0]
    blocked = api("crm.deal.list")
    assert blocked.status_code == 429
    assert blocked.json() == {
        "error": "OPERATION_TIME_LIMIT",
        "error_description": "Method is blocked due to operation time limit.",
    }
    assert api("crm.deal.fields").status_code == 200
    sandbox.clock.advance(600)
    reply = api("crm.deal.list").json()
    assert reply["time"]["operating"] == 4.0
    assert reply["time"]["operating_reset_at"] >= started + 600
    assert sandbox.server.calls.statuses()[429] == 1


def test_operating_reset_at_is_when_the_oldest_minute_drops_out(
    limited: tuple[BitrixSandbox, BitrixApi],
) -> None:
    sandbox, api = limited
    sandbox.set_operating_limit(480.0, costs={"crm.deal.list": 1.0})
    minute_start = int(sandbox.clock.time() // 60) * 60
    first = api("crm.deal.list").json()["time"]
    sandbox.clock.advance(120)
    later = api("crm.deal.list").json()["time"]
    assert first["operating_reset_at"] == later["operating_reset_at"] == minute_start + 600
    assert later["operating"] == 2.0


def test_batch_commands_count_against_their_own_method(
    limited: tuple[BitrixSandbox, BitrixApi],
) -> None:
    sandbox, api = limited
    sandbox.set_operating_limit(5.0, costs={"crm.deal.list": 2.0})
    cmd = {f"c{n}": "crm.deal.list" for n in range(4)} | {"fields": "crm.deal.fields"}
    reply = api("batch", {"halt": 0, "cmd": cmd})
    assert reply.status_code == 200
    body = reply.json()["result"]
    assert set(body["result"]) == {"c0", "c1", "c2", "fields"}
    assert body["result_error"] == {
        "c3": {
            "error": "OPERATION_TIME_LIMIT",
            "error_description": "Method is blocked due to operation time limit.",
        }
    }


def test_fast_bitrix24_raises_on_429(limited: tuple[BitrixSandbox, BitrixApi]) -> None:
    sandbox, api = limited
    sandbox.set_operating_limit(1.0, costs={"crm.deal.list": 2.0})
    api("crm.deal.list")
    client = Bitrix(sandbox.webhook_url, verbose=False)
    with pytest.raises(aiohttp.ClientResponseError) as caught:
        client.call("crm.deal.list", {"start": -1}, raw=True)
    assert caught.value.status == 429


def test_every_answer_carries_the_full_time_block(bitrix_api: BitrixApi) -> None:
    single = bitrix_api("crm.deal.add", {"fields": {"TITLE": "x"}}).json()
    assert set(single["time"]) == TIME_KEYS
    batch = bitrix_api("batch", {"cmd": {"a": "crm.deal.get?id=1", "b": "crm.deal.list"}}).json()
    assert set(batch["time"]) == TIME_KEYS
    per_command = batch["result"]["result_time"]
    assert set(per_command) == {"a", "b"}
    assert all(set(timing) == TIME_KEYS for timing in per_command.values())
    timing = single["time"]
    assert timing["finish"] >= timing["start"]
    assert timing["date_start"].endswith("+03:00")
