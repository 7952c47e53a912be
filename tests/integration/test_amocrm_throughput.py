"""Ten workers flat out through one adapter: no 429 ever, and throughput near 7 requests/s.

This one runs for ten seconds on purpose: a rate is only measured over time.
"""

from __future__ import annotations

import threading
import time

import pytest

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.secrets import Secret

WORKERS = 10
SECONDS = 10.0
LIMIT = 7.0


@pytest.mark.parametrize("mode", ["window", "bucket"])
def test_ten_workers_flat_out_never_hit_429_and_stay_near_the_limit(mode: str) -> None:
    # "7 per second" read strictly (any trailing second) and as a 7-token bucket.
    with AmoSandbox(seed="demo", rate_limit=LIMIT) as sandbox:
        sandbox.limits.mode = mode
        # No pacer passed: the adapter takes its account's process-wide default.
        crm = AmoCrm(
            sandbox.base_url,
            LongLivedToken(Secret(sandbox.long_lived_token)),
            system="amocrm:partner",
        )
        crm.custom_fields()  # definitions cached before the clock starts
        before = sandbox.server.calls.requests
        failures: list[BaseException] = []
        deadline = time.monotonic() + SECONDS

        def work() -> None:
            try:
                while time.monotonic() < deadline:
                    crm.fetch_deals(sample)
            except BaseException as exc:  # collected and asserted below
                failures.append(exc)

        sample = [str(lead) for lead in sandbox.lead_ids()[:3]]
        started = time.monotonic()
        threads = [threading.Thread(target=work, daemon=True) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SECONDS + 30)
        elapsed = time.monotonic() - started
        sent = sandbox.server.calls.requests - before
        crm.close()
        statuses = sandbox.server.calls.statuses()

    rate = sent / elapsed
    print(f"\namoCRM adapter ({mode}): {sent} requests / {elapsed:.2f} s = {rate:.2f} req/s")
    print(f"statuses {statuses}")
    assert failures == []
    assert statuses.get(429, 0) == 0, statuses
    assert crm.transport.rate_limited == 0
    assert abs(rate - LIMIT) <= LIMIT * 0.10, f"{rate:.2f} req/s is not within 10 % of {LIMIT}"
