"""Another partner's edit→mirrored latency while one partner hangs, over real HTTP.

Run:  .venv/bin/python -m tests.engine.measure_hung [--edits 100] [--deadline 30]

The example sandbox world; partner ``beta``'s deals are edited at the agency one at
a time (each with its webhook hint) while passes run back to back, first with
``alfa`` healthy, then with ``alfa`` pointed at a server that accepts TCP and never
answers (amoCRM client timeout ``--amo-timeout``, 4 attempts). ``--deadline`` is the
partner deadline (``BRIDGE_PARTNER_DEADLINE``); a huge value shows the bridge
without one. The first pass after ``alfa`` hangs is timed on its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.ratelimit import Pacer
from bridge.secrets import Secret
from sync.engine import Engine
from sync.lanes import Lanes
from tests.engine.http_world import http_world, utcnow
from tests.engine.hung import HungServer
from tests.engine.test_hung_partner import _edit_latencies, _figures, _partner_ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--deadline", type=float, default=30.0)
    parser.add_argument("--amo-timeout", type=float, default=15.0)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        http_world(Path(tmp)) as hw,
        HungServer() as hung,
    ):
        engine = Engine(
            hw.store,
            hw.mapping,
            hw.crms["agency"],
            {c: hw.crms[c] for c in hw.mapping.partners},
            clock=utcnow,
            lanes=Lanes(deadline=args.deadline, probe=1.0),
            retry_delay=dt.timedelta(0),
        )
        ids = hw.world.add_agency_deals(6, ("alfa", "beta"))
        engine.sync()
        beta = {a: p for a, p in _partner_ids(hw, ids, "beta").items() if p}
        quiet = _edit_latencies(hw, engine, beta, args.edits)
        engine.partners["alfa"] = AmoCrm(
            hung.url,
            LongLivedToken(Secret("hung-partner-token-000000")),
            system="amocrm:alfa",
            pacer=Pacer(rate=10_000, burst=10_000),
            timeout=args.amo_timeout,
        )
        started = time.perf_counter()
        report = engine.sync()
        first = time.perf_counter() - started
        hanging = _edit_latencies(hw, engine, beta, args.edits)
        print(_figures("beta edit→mirrored, alfa healthy", quiet))
        print(f"first pass after alfa hung: {first:.2f}s; errors {report.errors}")
        print(_figures(f"beta edit→mirrored, alfa hung, deadline {args.deadline:g}s", hanging))
        # The hung client's abandoned calls may still be waiting: do not wait on them.
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
