"""Bitrix24 adapter throughput against the sandbox at the real rate limits.

    python -m benchmarks.bitrix_adapter [--deals 10000] [--updates 1000] [--latency 0.0]

Seeds deals straight into the sandbox, reads them all back through
``BitrixCrm.list_changed`` and updates a share through ``update_deals``, then
prints the HTTP requests used against the minimum the batch sizes allow
(50 commands per batch, 50 rows per page), the wall time and the 503 count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from dataclasses import dataclass

from bridge.bitrix.batch import MAX_COMMANDS, PAGE_SIZE
from bridge.bitrix.client import BitrixCrm
from bridge.model import DealPatch
from bridge.sandbox.bitrix.portal import BitrixSandbox
from bridge.secrets import Secret


@dataclass
class Phase:
    name: str
    requests: int
    minimum: int
    seconds: float
    rate_limited: int

    def line(self) -> str:
        return (
            f"{self.name:<28} requests {self.requests:>5}  minimum {self.minimum:>5}  "
            f"wall {self.seconds:7.2f} s  503s {self.rate_limited}"
        )


def _measure(portal: BitrixSandbox, name: str, minimum: int, work: object) -> Phase:
    calls = portal.server.calls
    before, refused = calls.requests, calls.statuses().get(503, 0)
    began = time.perf_counter()
    assert callable(work)
    work()
    seconds = time.perf_counter() - began
    return Phase(
        name, calls.requests - before, minimum, seconds, calls.statuses().get(503, 0) - refused
    )


def run(deals: int, updates: int, latency: float, plan: str) -> list[Phase]:
    with BitrixSandbox(seed="demo", plan=plan) as portal:
        portal.server.latency = latency
        since = portal.clock.now() - dt.timedelta(seconds=1)
        ids = portal.seed_deals(deals)
        crm = BitrixCrm(Secret(portal.webhook_url), system="bitrix24:bench")
        try:
            phases = [_measure(portal, "catalogue (custom fields)", 1, crm.custom_fields)]
            seen: set[str] = set()

            def read() -> None:
                for page in crm.list_changed(since):
                    seen.update(d.id for d in page.deals)

            per_request = PAGE_SIZE * MAX_COMMANDS
            phases.append(
                _measure(portal, f"list_changed {deals}", math.ceil(deals / per_request), read)
            )
            missing = set(ids) - seen
            if missing:
                raise SystemExit(f"list_changed missed {len(missing)} deals")
            patches = [DealPatch(i, title=f"Обновлено {n}") for n, i in enumerate(ids[:updates])]

            def write() -> None:
                failed = [r for r in crm.update_deals(patches) if not r.ok]
                if failed:
                    raise SystemExit(f"{len(failed)} updates failed: {failed[0].error}")

            minimum = math.ceil(updates / MAX_COMMANDS)
            phases.append(_measure(portal, f"update_deals {updates}", minimum, write))
        finally:
            crm.close()
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=1_000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--plan", default="standard", choices=("standard", "enterprise"))
    args = parser.parse_args()
    began = time.perf_counter()
    phases = run(args.deals, args.updates, args.latency, args.plan)
    for phase in phases:
        print(phase.line())
    total = Phase(
        "total",
        sum(p.requests for p in phases),
        sum(p.minimum for p in phases),
        time.perf_counter() - began,
        sum(p.rate_limited for p in phases),
    )
    print(total.line() + "  (wall includes seeding)")


if __name__ == "__main__":
    main()
