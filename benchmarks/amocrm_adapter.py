"""amoCRM adapter against the sandbox at the real rate limit (7 requests/s per account).

    python -m benchmarks.amocrm_adapter [--leads 10000] [--creates 1000] [--latency 0.0]

Seeds leads straight into the sandbox, reads them all back through
``AmoCrm.list_changed``, creates leads with their contacts through
``create_deals`` (``/api/v4/leads/complex``), and prints the HTTP requests used
against the minimum the batch sizes allow (250 rows per page, 50 leads per
complex call), the wall time and the 429 count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.listing import PAGE
from bridge.amocrm.oauth import LongLivedToken
from bridge.amocrm.writes import COMPLEX_BATCH
from bridge.crm import WriteResult
from bridge.model import Contact, DealDraft, Money, Semantics
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.secrets import Secret

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass
class Phase:
    name: str
    requests: int
    minimum: int
    seconds: float
    rate_limited: int

    def line(self) -> str:
        return (
            f"{self.name:<34} requests {self.requests:>5}  minimum {self.minimum:>5}  "
            f"wall {self.seconds:7.2f} s  429s {self.rate_limited}"
        )


def _measure(sandbox: AmoSandbox, name: str, minimum: int, work: Callable[[], object]) -> Phase:
    calls = sandbox.server.calls
    before, refused = calls.requests, calls.statuses().get(429, 0)
    began = time.perf_counter()
    work()
    seconds = time.perf_counter() - began
    refused_now = calls.statuses().get(429, 0) - refused
    return Phase(name, calls.requests - before, minimum, seconds, refused_now)


def _drafts(crm: AmoCrm, count: int) -> list[DealDraft]:
    pipeline = next(p for p in crm.pipelines() if p.name == "Партнёрские лиды")
    stage = next(s for s in pipeline.stages if s.semantics is Semantics.OPEN)
    return [
        DealDraft(
            key=f"b{n}",
            title=f"Бенчмарк №{n}",
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            amount=Money(Decimal(1000 + n), "RUB"),
            contact=Contact(f"Клиент {n}", phones=(f"+7 900 {n:07d}",)),
            stamp=f"bench-{n}",
        )
        for n in range(count)
    ]


def run(leads: int, creates: int, latency: float) -> list[Phase]:
    with AmoSandbox(seed="demo") as sandbox:
        sandbox.server.latency = latency
        sandbox.seed_leads(leads)
        total = len(sandbox.lead_ids())
        crm = AmoCrm(
            sandbox.base_url,
            LongLivedToken(Secret(sandbox.long_lived_token)),
            system="amocrm:bench",
        )
        try:
            seen: set[str] = set()

            def read_all() -> None:
                for page in crm.list_changed(EPOCH):
                    seen.update(d.id for d in page.deals)

            phases = [
                _measure(sandbox, "catalogue (custom fields)", 1, crm.custom_fields),
                _measure(sandbox, f"read all {total} leads", math.ceil(total / PAGE), read_all),
            ]
            if len(seen) != total:
                raise SystemExit(f"read {len(seen)} leads of {total}")
            drafts = _drafts(crm, creates)
            crm.ensure_stamp_field()
            results: list[WriteResult] = []
            phases.append(
                _measure(
                    sandbox,
                    f"create {creates} leads with contacts",
                    math.ceil(creates / COMPLEX_BATCH),
                    lambda: results.extend(crm.create_deals(drafts)),
                )
            )
            failed = [r for r in results if not r.ok]
            if failed or len(results) != creates:
                raise SystemExit(f"{len(failed)} creates failed: {failed[:1]}")
        finally:
            crm.close()
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--creates", type=int, default=1_000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    args = parser.parse_args()
    began = time.perf_counter()
    phases = run(args.leads, args.creates, args.latency)
    for phase in phases:
        print(phase.line())
    used = sum(p.requests for p in phases)
    print(f"total requests {used}, minimum {sum(p.minimum for p in phases)}, ", end="")
    print(f"wall {time.perf_counter() - began:.2f} s, 429s {sum(p.rate_limited for p in phases)}")


if __name__ == "__main__":
    main()
