"""``BitrixCrm`` against ``BitrixSandbox`` over real HTTP: limits, faults, secrets, loops."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest

from bridge.bitrix.client import BitrixCrm
from bridge.crm import AuthError, Crm, NotFound, OutcomeUnknown, RateLimited, TransientError
from bridge.model import Contact, DealDraft, DealPatch, Money, Note
from bridge.ratelimit import Pacer
from bridge.sandbox.bitrix.portal import BitrixSandbox
from bridge.sandbox.emulator import EmulatorServer, Fault, FaultKind, Request, Response
from bridge.secrets import Secret

SECRET = "integration-webhook-s3cret"
FAST = Pacer(rate=1000.0, burst=1000)


def _crm(sandbox: BitrixSandbox, pacer: Pacer | None = None, timeout: float = 30) -> BitrixCrm:
    return BitrixCrm(Secret(sandbox.webhook_url), system="b24:test", pacer=pacer, timeout=timeout)


@pytest.fixture
def sandbox() -> Iterator[BitrixSandbox]:
    with BitrixSandbox(seed="demo", plan="enterprise", secret=SECRET) as portal:
        yield portal


@pytest.fixture
def crm(sandbox: BitrixSandbox) -> Iterator[BitrixCrm]:
    adapter = _crm(sandbox, Pacer(rate=5.0, burst=250))
    yield adapter
    adapter.close()


def _drafts(count: int, start: int = 0) -> list[DealDraft]:
    return [
        DealDraft(
            key=f"k{n}",
            title=f"Сделка {n}",
            pipeline_id="1",
            stage_id="C1:NEW",
            amount=Money(Decimal(1000 + n), "RUB"),
            contact=Contact(f"Клиент {n}", phones=(f"+7 900 000-00-{n:02d}",)),
            stamp=f"agency-{n}",
        )
        for n in range(start, start + count)
    ]


def _statuses(sandbox: BitrixSandbox) -> dict[int, int]:
    return sandbox.server.calls.statuses()


def test_steady_load_at_the_real_limit_never_hits_503() -> None:
    # Standard plan: 50 burst, 2 per second. 56 calls = the burst plus 3 s of steady state.
    with BitrixSandbox(seed="demo", plan="standard", secret=SECRET) as portal:
        adapter = _crm(portal)  # default pacer: the standard plan's bucket
        try:
            ids = portal.seed_deals(5)
            for _ in range(56):
                assert set(adapter.fetch_deals(ids)) == set(ids)
        finally:
            adapter.close()
        assert portal.server.calls.requests >= 56
        assert 503 not in _statuses(portal)


def test_without_pacing_the_portal_pushes_back_and_the_adapter_backs_off() -> None:
    with BitrixSandbox(seed="demo", plan="standard", secret=SECRET) as portal:
        portal.set_rate_limit(burst=4, per_second=4.0)
        adapter = _crm(portal, Pacer(rate=1000.0, burst=1000))
        try:
            ids = portal.seed_deals(2)
            for _ in range(8):
                assert set(adapter.fetch_deals(ids)) == set(ids)
        finally:
            adapter.close()
        # The unpaced client did trigger 503s; each was waited out, nothing failed.
        assert _statuses(portal).get(503, 0) >= 1


def test_rate_limit_that_does_not_clear_becomes_rate_limited(sandbox: BitrixSandbox) -> None:
    adapter = _crm(sandbox, Pacer(rate=50.0, burst=50))
    try:
        ids = sandbox.seed_deals(1)
        adapter.custom_fields()
        sandbox.set_rate_limit(burst=1, per_second=0.001)
        before = sandbox.server.calls.requests
        with pytest.raises(RateLimited) as caught:
            for _ in range(3):
                adapter.fetch_deals(ids)
        assert caught.value.code == "QUERY_LIMIT_EXCEEDED"
        refused = sandbox.server.calls.requests - before
        assert refused <= 2 + 3, "three retries after pausing, then give up"
    finally:
        adapter.close()


def test_partial_batch_failure_maps_to_items_and_is_not_resent(
    sandbox: BitrixSandbox, crm: BitrixCrm
) -> None:
    (result,) = crm.create_deals(_drafts(1))
    assert result.deal_id is not None
    before = sandbox.server.calls.requests
    notes = [Note(result.deal_id, "первая"), Note("999999", "в пустоту"), Note(result.deal_id, "2")]
    results = crm.add_notes(notes)
    assert sandbox.server.calls.requests == before + 1, "three notes, one batch request"
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, NotFound)
    assert [n.text for n in crm.list_notes(result.deal_id)] == ["первая", "2"]


def test_lost_answer_to_a_write_is_outcome_unknown_and_never_resent(
    sandbox: BitrixSandbox, crm: BitrixCrm
) -> None:
    crm.custom_fields()  # warm the catalogue so the fault hits the write itself
    before = sandbox.server.calls.requests
    deals_before = len(sandbox.deal_ids())
    sandbox.server.faults.arm(Fault(FaultKind.DROP_AFTER_COMMIT, method="batch"))
    results = crm.create_deals(_drafts(3, start=10))
    assert all(isinstance(r.error, OutcomeUnknown) for r in results)
    assert [r.key for r in results] == ["k10", "k11", "k12"]
    assert sandbox.server.calls.requests == before + 1, "no blind re-send"
    assert len(sandbox.deal_ids()) == deals_before + 3, "the write did commit"
    # The documented recovery: look the deals up by stamp before writing again.
    found = crm.find_by_stamp(["agency-10", "agency-11", "agency-12"])
    assert set(found) == {"agency-10", "agency-11", "agency-12"}


def test_timeout_on_a_write_is_outcome_unknown(sandbox: BitrixSandbox) -> None:
    adapter = _crm(sandbox, FAST, timeout=0.5)
    try:
        (deal_id,) = sandbox.seed_deals(1)
        adapter.custom_fields()
        sandbox.server.faults.arm(Fault(FaultKind.TIMEOUT, delay=1.0, method="batch"))
        (result,) = adapter.update_deals([DealPatch(deal_id, title="x")])
        assert isinstance(result.error, OutcomeUnknown)
    finally:
        adapter.close()


def test_server_errors_are_transient_after_exactly_one_request(
    sandbox: BitrixSandbox, crm: BitrixCrm
) -> None:
    ids = sandbox.seed_deals(2)
    crm.custom_fields()
    before = sandbox.server.calls.requests
    sandbox.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=1, status=502))
    with pytest.raises(TransientError) as caught:
        crm.fetch_deals(ids)
    assert not isinstance(caught.value, OutcomeUnknown)
    assert sandbox.server.calls.requests == before + 1, "fast-bitrix24 did not retry behind us"
    assert set(crm.fetch_deals(ids)) == set(ids)
    sandbox.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=1, status=500))
    (result,) = crm.update_deals([DealPatch(ids[0], title="y")])
    assert isinstance(result.error, OutcomeUnknown), "a 500 on a write may have committed"


def test_secrets_never_reach_logs_errors_or_reprs(
    sandbox: BitrixSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = BitrixCrm(
        Secret(sandbox.webhook_url.replace(SECRET, "wrong-" + SECRET)), system="b24:test"
    )
    good = _crm(sandbox, FAST, timeout=0.5)
    texts: list[str] = [repr(bad), repr(good)]
    try:
        with pytest.raises(AuthError) as denied:
            bad.pipelines()
        texts += [str(denied.value), repr(denied.value)]
        ids = sandbox.seed_deals(3)
        good.fetch_deals(ids)
        sandbox.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=1, status=503))
        with pytest.raises(TransientError) as failed:
            good.fetch_deals(ids)
        sandbox.server.faults.arm(Fault(FaultKind.TIMEOUT, delay=1.0))
        with pytest.raises(TransientError) as timed_out:
            good.fetch_deals(ids)
        for error in (failed.value, timed_out.value):
            texts += [str(error), repr(error), repr(error.__context__), repr(error.__cause__)]
    finally:
        bad.close()
        good.close()
    assert caplog.records, "the adapter logged something to check"
    for text in [caplog.text, *texts]:
        assert SECRET not in text


def test_calls_from_inside_a_running_event_loop_return_results(
    sandbox: BitrixSandbox, crm: BitrixCrm
) -> None:
    # fast_bitrix24.Bitrix would hand back an asyncio.Task here; the adapter never uses it.
    ids = sandbox.seed_deals(3)

    async def inside_a_loop() -> object:
        return crm.fetch_deals(ids)

    deals = asyncio.run(inside_a_loop())
    assert isinstance(deals, dict) and set(deals) == set(ids)


def test_one_adapter_serves_many_threads(sandbox: BitrixSandbox, crm: BitrixCrm) -> None:
    ids = sandbox.seed_deals(4)
    seen: list[set[str]] = []

    def worker() -> None:
        seen.append(set(crm.fetch_deals(ids)))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert seen == [set(ids)] * 6


def test_operating_budget_holds_a_method_back_before_the_portal_blocks_it(
    sandbox: BitrixSandbox, crm: BitrixCrm
) -> None:
    (deal_id,) = sandbox.seed_deals(1)
    crm.custom_fields()
    sandbox.set_operating_limit(480.0, costs={"crm.item.list": 150.0})
    for _ in range(3):
        crm.fetch_deals([deal_id])  # 150, 300, 450 s used: past the 420 s soft limit
    before = sandbox.server.calls.requests
    with pytest.raises(RateLimited) as caught:
        crm.fetch_deals([deal_id])
    assert caught.value.code == "OPERATING_BUDGET"
    assert caught.value.retry_after > 0
    assert sandbox.server.calls.requests == before, "held back locally, not blocked by the portal"
    assert 429 not in _statuses(sandbox)


class _MovedPortal:
    """A portal that was renamed: every call answers 302 to the new host (reference §1)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def api_method(self, request: Request) -> str:
        return request.path.rsplit("/", 1)[-1].lower()

    def handle(self, request: Request) -> Response:
        self.seen.append((request.method, request.path))
        location = f"/rest/1/{SECRET}-new/{self.api_method(request)}"
        return Response(302, b"", {"Location": location})


def test_a_renamed_portal_is_never_followed_with_a_bodiless_get() -> None:
    portal = _MovedPortal()
    with EmulatorServer(portal) as server:
        adapter = BitrixCrm(Secret(f"{server.base_url}/rest/1/{SECRET}/"), system="b24:test")
        try:
            (result,) = adapter.add_notes([Note("1", "текст")])
        finally:
            adapter.close()
    assert isinstance(result.error, AuthError)
    assert SECRET not in str(result.error)
    assert portal.seen == [("POST", f"/rest/1/{SECRET}/batch")], "the redirect was not followed"


def test_a_method_blocked_by_the_portal_is_rate_limited_then_held_back(
    sandbox: BitrixSandbox, crm: BitrixCrm
) -> None:
    (deal_id,) = sandbox.seed_deals(1)
    sandbox.set_operating_limit(1.0, costs={"crm.timeline.comment.list": 2.0})
    assert crm.list_notes(deal_id) == []  # uses 2 s of a 1 s budget
    with pytest.raises(RateLimited) as blocked:
        crm.list_notes(deal_id)
    assert blocked.value.code == "OPERATION_TIME_LIMIT"
    before = sandbox.server.calls.requests
    with pytest.raises(RateLimited) as held:
        crm.list_notes(deal_id)
    assert held.value.code == "OPERATING_BUDGET"
    assert sandbox.server.calls.requests == before
    assert crm.fetch_deals([deal_id]), "other methods keep working"


def test_the_adapter_satisfies_the_crm_protocol(crm: BitrixCrm) -> None:
    assert isinstance(crm, Crm)
    assert crm.system == "b24:test"
