"""Another partner's edit→mirrored latency while one partner hangs, over real HTTP.

Run:  .venv/bin/python -m tests.engine.measure_hung [--edits 100] [--deadline 30]

The example sandbox world; partner ``beta``'s deals are edited at the agency one at
a time (each with its webhook hint) while passes run back to back, as the daemon
runs them (each pass waits ``--pass-wait`` s for the partners' lanes, like
``BRIDGE_PASS_WAIT``): with ``alfa`` healthy; with ``alfa`` pointed at a server that
accepts TCP and never answers (the first pass after it hangs is timed on its own);
and, once ``alfa`` answers again, a trickle during which it hangs half way, so the
*onset* pass is among the measured edits. ``--deadline`` is the partner deadline
(``BRIDGE_PARTNER_DEADLINE``; amoCRM client timeout ``--amo-timeout``, 4 attempts).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.crm import Crm
from bridge.ratelimit import Pacer
from bridge.secrets import Secret
from sync.engine import Engine
from sync.lanes import Lanes
from tests.engine.http_world import HttpWorld, http_world, utcnow
from tests.engine.hung import HungServer
from tests.engine.test_hung_partner import _edit_latencies, _figures, _partner_ids


def _hung_crm(hw: HttpWorld, url: str, timeout: float) -> Crm:
    return AmoCrm(
        url,
        LongLivedToken(Secret("hung-partner-token-000000")),
        system=hw.crms["alfa"].system,
        pacer=Pacer(rate=10_000, burst=10_000),
        timeout=timeout,
    )


def _trickle_with_onset(
    hw: HttpWorld, engine: Engine, beta: dict[str, str], edits: int, hang: Callable[[], None]
) -> list[float]:
    """The first half of the edits with alfa healthy, then alfa hangs, then the rest."""
    first = _edit_latencies(hw, engine, beta, edits // 2)
    hang()
    return first + _edit_latencies(hw, engine, beta, edits - edits // 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--deadline", type=float, default=30.0)
    parser.add_argument("--amo-timeout", type=float, default=15.0)
    parser.add_argument("--pass-wait", type=float, default=1.0)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        http_world(Path(tmp)) as hw,
        HungServer() as hung,
    ):
        ahead = [dt.timedelta(0)]
        engine = Engine(
            hw.store,
            hw.mapping,
            hw.crms["agency"],
            {c: hw.crms[c] for c in hw.mapping.partners},
            clock=lambda: utcnow() + ahead[0],
            lanes=Lanes(deadline=args.deadline, probe=1.0),
            retry_delay=dt.timedelta(0),
            pass_wait=args.pass_wait,
        )
        ids = hw.world.add_agency_deals(6, ("alfa", "beta"))
        engine.sync(wait=None)
        beta = {a: p for a, p in _partner_ids(hw, ids, "beta").items() if p}
        quiet = _edit_latencies(hw, engine, beta, args.edits)

        def hang() -> None:
            engine.partners["alfa"] = _hung_crm(hw, hung.url, args.amo_timeout)

        hang()
        started = time.perf_counter()
        report = engine.sync()
        first = time.perf_counter() - started
        hanging = _edit_latencies(hw, engine, beta, args.edits)
        # alfa healthy again once its abandoned calls are over, past the breaker's pause;
        # then a trickle during which it hangs half way: the onset among the edits.
        engine.partners["alfa"] = hw.crms["alfa"]
        engine.lanes.wait_idle("alfa", args.deadline * 5)
        ahead[0] = dt.timedelta(minutes=15)
        healed = engine.sync(wait=None)
        onset = _trickle_with_onset(hw, engine, beta, args.edits, hang)
        print(_figures("beta edit→mirrored, alfa healthy", quiet))
        print(f"first pass after alfa hung: {first:.2f}s; errors {report.errors}")
        print(_figures(f"beta edit→mirrored, alfa hung, deadline {args.deadline:g}s", hanging))
        print(f"alfa answers again: errors {healed.errors}")
        print(_figures("beta edit→mirrored, alfa hangs half way (onset included)", onset))
        print(f"(passes wait {args.pass_wait:g}s for the partners' lanes, as the daemon's)")
        # The hung client's abandoned calls may still be waiting: do not wait on them.
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
