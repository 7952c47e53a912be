"""How the amoCRM adapter fails, against the sandbox over HTTP: blocks, 429, lost answers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.crm import AccountBlocked, AuthError, OutcomeUnknown, RateLimited
from bridge.model import Contact, DealDraft, Money
from bridge.ratelimit import Pacer
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.emulator import Fault, FaultKind
from bridge.secrets import Secret

COMPLEX = "post /api/v4/leads/complex"


@pytest.fixture
def sandbox() -> Iterator[AmoSandbox]:
    with AmoSandbox(seed="demo", rate_limit=None) as running:
        yield running


def _crm(sandbox: AmoSandbox, *, token: str | None = None, timeout: float = 5) -> AmoCrm:
    return AmoCrm(
        sandbox.base_url,
        LongLivedToken(Secret(token or sandbox.long_lived_token)),
        system="amocrm:partner",
        pacer=Pacer(1000, 1000),
        timeout=timeout,
        retry_wait=0.01,
    )


def _draft(sandbox: AmoSandbox, stamp: str) -> DealDraft:
    pipeline = sandbox.pipeline_id("Партнёрские лиды")
    return DealDraft(
        key=stamp,
        title=f"Сделка {stamp}",
        pipeline_id=str(pipeline),
        stage_id=_first_open_stage(sandbox, pipeline),
        amount=Money(Decimal(1000), "RUB"),
        contact=Contact("Пётр", phones=("+79120000000",)),
        stamp=stamp,
    )


def _first_open_stage(sandbox: AmoSandbox, pipeline: int) -> str:
    crm = _crm(sandbox)
    try:
        found = next(p for p in crm.pipelines() if p.id == str(pipeline))
    finally:
        crm.close()
    return next(s.id for s in found.stages if s.semantics.value == "open")


def test_blocked_account_is_account_blocked_at_once(sandbox: AmoSandbox) -> None:
    crm = _crm(sandbox)
    sandbox.limits.blocked = True
    before = sandbox.server.calls.requests
    with pytest.raises(AccountBlocked, match="stopped until an admin acts"):
        crm.pipelines()
    assert sandbox.server.calls.requests - before == 1, "a block is never retried"
    crm.close()


def test_429_pauses_every_caller_and_a_long_wait_is_not_retried_inline() -> None:
    with AmoSandbox(seed="demo", rate_limit=1.0) as sandbox:
        pacer = Pacer(1000, 1000)
        crm = AmoCrm(
            sandbox.base_url,
            LongLivedToken(Secret(sandbox.long_lived_token)),
            system="amocrm:partner",
            pacer=pacer,
        )
        crm.pipelines()
        with pytest.raises(RateLimited) as caught:
            crm.pipelines()
        assert caught.value.retry_after == 300  # the sandbox's (and Kommo's) retry_after
        assert sandbox.server.calls.statuses().get(429) == 1
        assert pacer.reserve() > 250, "everyone sharing the pacer now waits"
        crm.close()


def test_server_errors_on_reads_are_retried(sandbox: AmoSandbox) -> None:
    crm = _crm(sandbox)
    sandbox.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=2, status=502))
    before = sandbox.server.calls.requests
    assert crm.pipelines()
    assert sandbox.server.calls.requests - before == 3
    crm.close()


def test_lost_answer_to_a_create_is_outcome_unknown_and_found_by_stamp(
    sandbox: AmoSandbox,
) -> None:
    crm = _crm(sandbox)
    draft = _draft(sandbox, "agency-900")
    crm.ensure_stamp_field()
    sandbox.server.faults.arm(Fault(FaultKind.DROP_AFTER_COMMIT, method=COMPLEX))
    before = sandbox.server.calls.requests
    (result,) = crm.create_deals([draft])
    assert isinstance(result.error, OutcomeUnknown)
    assert sandbox.server.calls.requests - before == 1, "a write of unknown outcome is not re-sent"
    found = crm.find_by_stamp(["agency-900"])
    assert found["agency-900"].title == "Сделка agency-900"
    crm.close()


def test_timeout_on_a_create_is_outcome_unknown_and_not_retried(sandbox: AmoSandbox) -> None:
    crm = _crm(sandbox, timeout=0.3)
    draft = _draft(sandbox, "agency-901")
    crm.ensure_stamp_field()
    sandbox.server.faults.arm(Fault(FaultKind.TIMEOUT, delay=0.6, method=COMPLEX))
    before = sandbox.server.calls.requests
    started = time.monotonic()
    (result,) = crm.create_deals([draft])
    assert isinstance(result.error, OutcomeUnknown)
    assert time.monotonic() - started < 2
    assert sandbox.server.calls.requests - before == 1
    assert crm.find_by_stamp(["agency-901"]) == {}, "this time the server never ran it"
    crm.close()


def test_server_error_on_a_create_is_outcome_unknown_not_retried(sandbox: AmoSandbox) -> None:
    crm = _crm(sandbox)
    draft = _draft(sandbox, "agency-902")
    crm.ensure_stamp_field()
    sandbox.server.faults.arm(Fault(FaultKind.SERVER_ERROR, status=504, method=COMPLEX))
    before = sandbox.server.calls.requests
    (result,) = crm.create_deals([draft])
    assert isinstance(result.error, OutcomeUnknown)
    assert sandbox.server.calls.requests - before == 1
    crm.close()


def test_tokens_stay_out_of_logs_and_errors(
    sandbox: AmoSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good, bad = _crm(sandbox), _crm(sandbox, token="amocrm-wrong-token-0123456789")
    sandbox.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=1, status=500))
    good.fetch_deals(["1"])  # one retry, logged
    with pytest.raises(AuthError) as caught:
        bad.pipelines()
    texts = [caplog.text, str(caught.value), repr(caught.value), repr(good), repr(bad)]
    assert "amocrm.retry" in caplog.text
    for secret in (sandbox.long_lived_token, "amocrm-wrong-token-0123456789"):
        assert all(secret not in text for text in texts)
    good.close()
    bad.close()
