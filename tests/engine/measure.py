"""API calls per synced deal over real HTTP, next to the minimum the batch sizes allow.

Run:  .venv/bin/python -m tests.engine.measure [--deals 500] [--changes 50] [--fast]

Three sandboxes (agency Bitrix24, amoCRM ``alfa``, Bitrix24 ``beta``) with the
real rate limits unless ``--fast``; the example mapping.yaml; a fresh SQLite
store. Every HTTP request the sandboxes serve is counted (a Bitrix24 ``batch``
of 50 commands is one request).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from sync.engine import Engine
from tests.engine.http_world import HttpWorld, http_world

BATCH = 50  # Bitrix24: commands per batch; amoCRM: leads per complex create
B24_ROWS = 50 * 50  # a batch of 50 list commands, 50 rows each
AMO_ROWS = 250  # rows per amoCRM page
POLL_INTERVAL = 60.0
VERBOSE = False


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after}


def _pass(hw: HttpWorld, engine: Engine, label: str, deals: int, minimum: int) -> None:
    hw.world.advance(POLL_INTERVAL)  # passes run one poll interval apart
    before, started = hw.world.requests(), time.perf_counter()
    report = engine.sync()
    took = time.perf_counter() - started
    used = _delta(before, hw.world.requests())
    total = sum(used.values())
    per = f"{total / deals:.3f}" if deals else "-"
    print(
        f"{label:<28} requests {total:>4} {used}  per deal {per}  minimum {minimum}"
        f"  writes {report.writes}  {took:.1f}s  errors {report.errors or 'none'}"
    )
    if VERBOSE:
        for name, box in hw.world.boxes().items():
            print(f"    {name}: {box.server.calls.methods()}")


def _change(hw: HttpWorld, ids: list[str], count: int) -> None:
    """Half the changes in amoCRM (stage + amount), half in the Bitrix24 partner (amount)."""
    from bridge.store import links

    with hw.store.transaction() as session:
        rows = [r for r in links.by_agency_ids(session, ids) if r.partner_deal_id]
    box = hw.world.alfa
    pipeline = box.pipeline_id("Партнёрские лиды")
    contract = box.status_id(pipeline, "Договор")
    alfa = [r for r in rows if r.partner_code == "alfa"][: count // 2]
    beta = [r for r in rows if r.partner_code == "beta"][: count - len(alfa)]
    for n, row in enumerate(alfa):
        box.update_lead(int(row.partner_deal_id or 0), {"status_id": contract, "price": 5000 + n})
    for n, row in enumerate(beta):
        hw.world.beta.update_deal(row.partner_deal_id or "", {"OPPORTUNITY": str(7000 + n)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=500)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--fast", action="store_true", help="lift the rate limits")
    parser.add_argument("--verbose", action="store_true", help="methods called per CRM")
    args = parser.parse_args()
    global VERBOSE  # noqa: PLW0603 - a script switch
    VERBOSE = args.verbose
    with (
        tempfile.TemporaryDirectory() as tmp,
        http_world(Path(tmp), fast=args.fast) as hw,
    ):
        seeded = len(hw.world.agency.deal_ids())
        ids = hw.world.add_agency_deals(args.deals, ("alfa", "beta"))
        listed = seeded + args.deals
        half = math.ceil(args.deals / 2)
        first_min = (
            3  # pipelines, once per daemon start (one per CRM)
            + math.ceil(listed / B24_ROWS)
            + math.ceil(args.deals / B24_ROWS)  # agency reads
            + 1
            + math.ceil(half / BATCH)  # amoCRM: listing, complex creates of 50
            + 1
            + math.ceil(2 * half / BATCH)  # Bitrix24 partner: listing, contact+deal adds
        )
        engine = hw.engine()
        print(f"agency deals listed: {listed}; routed new: {args.deals}")
        _pass(hw, engine, f"first pass ({args.deals} deals)", args.deals, first_min)
        echo_min = 3 + math.ceil(args.deals / B24_ROWS)  # listings + agency re-read
        _pass(hw, engine, "second pass (echoes)", args.deals, echo_min)
        _pass(hw, engine, "third pass (no changes)", args.deals, 3)
        _change(hw, ids, args.changes)
        c = args.changes
        change_min = 3 + math.ceil(c / B24_ROWS) + math.ceil(c / BATCH)  # + agency updates
        _pass(hw, engine, f"pass with {c} partner changes", c, change_min)
        _pass(hw, engine, "pass after (echoes)", c, 3 + math.ceil(c / AMO_ROWS))


if __name__ == "__main__":
    main()
