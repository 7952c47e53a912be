"""A partner whose CRM accepts TCP and never answers slows only itself (issue 16 §2).

Over real HTTP: the example sandbox world, with partner ``alfa``'s URL pointed at a
server that accepts connections and never replies. The other partner's deals mirror
in the same passes; ``alfa`` is reported failing; once it answers again every deal
routed to it while it hung arrives exactly once. The latency test prints edit→mirrored
figures for the other partner with and without the hung one (no timing is asserted:
the figures belong in a report).
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.crm import Crm
from bridge.model import Hint, HintKind, LinkStatus
from bridge.ratelimit import Pacer
from bridge.secrets import Secret
from bridge.store import health, links
from sync.engine import Engine
from sync.lanes import Lanes
from sync.sources import inbox
from tests.engine.http_world import HttpWorld, http_world, utcnow
from tests.engine.hung import HungServer

WAIT = 120.0  # the most a test waits on a condition before it fails


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[HttpWorld]:
    with http_world(tmp_path) as built:
        yield built


@pytest.fixture
def hung() -> Iterator[HungServer]:
    with HungServer() as server:
        yield server


def _hung_alfa(hw: HttpWorld, server: HungServer) -> Crm:
    return AmoCrm(
        server.url,
        LongLivedToken(Secret("hung-partner-token-000000")),
        system=hw.crms["alfa"].system,
        pacer=Pacer(rate=10_000, burst=10_000),
        retry_wait=0.01,
        timeout=2,
    )


def _partner_ids(hw: HttpWorld, ids: list[str], code: str) -> dict[str, str | None]:
    with hw.store.transaction() as session:
        rows = links.by_agency_ids(session, ids)
    return {r.agency_deal_id: r.partner_deal_id for r in rows if r.partner_code == code}


def test_a_hung_partner_fails_alone_and_gets_everything_once_it_answers(
    hw: HttpWorld, hung: HungServer
) -> None:
    engine = hw.engine(lanes=Lanes(deadline=1.0, probe=1.0), retry_delay=dt.timedelta(0))
    assert engine.sync().errors == {}
    hung_alfa = _hung_alfa(hw, hung)
    engine.partners["alfa"] = hung_alfa
    ids = hw.world.add_agency_deals(6, ("alfa", "beta"))
    alfa_before, beta_before = len(hw.world.alfa.lead_ids()), len(hw.world.beta.deal_ids())
    hw.world.advance(60)

    report = engine.sync()
    assert set(report.errors) == {"alfa"}
    assert "did not answer within 1 s" in report.errors["alfa"]
    assert hung.accepted.is_set()
    assert len(hw.world.beta.deal_ids()) - beta_before == 3  # beta went on in the same pass
    assert len(hw.world.alfa.lead_ids()) == alfa_before

    # Its call has not returned: the next pass sets it aside without waiting on it.
    hw.world.add_agency_deals(2, ("alfa", "beta"))
    hw.world.advance(60)
    report = engine.sync()
    assert set(report.errors) == {"alfa"}
    assert len(hw.world.beta.deal_ids()) - beta_before == 4
    with hw.store.transaction() as session:
        row = health.all_rows(session)["alfa"]
    assert row.error_kind is not None and row.last_error is not None
    assert "answer" in row.last_error

    # It answers again: once its abandoned call has returned, it is probed and catches up.
    engine.partners["alfa"] = hw.crms["alfa"]
    assert engine.lanes.wait_idle("alfa", WAIT)
    hung_alfa.close()
    hw.world.advance(60)
    report = engine.sync()
    assert report.errors == {}
    assert not engine.lanes.probing("alfa")
    every = [*ids, *hw.world.deal_ids[-2:]]
    alfa_ids = _partner_ids(hw, every, "alfa")
    assert len(alfa_ids) == 4 and None not in alfa_ids.values()
    assert len(hw.world.alfa.lead_ids()) - alfa_before == 4  # each exactly once
    found = hw.crms["alfa"].find_by_stamp(sorted(alfa_ids))
    assert {a: d.id for a, d in found.items()} == alfa_ids
    with hw.store.transaction() as session:
        statuses = {r.status for r in links.by_agency_ids(session, every)}
    assert statuses == {LinkStatus.ACTIVE.value}


class PassLoop:
    """Passes back to back on a thread of their own, as the daemon runs them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.done = threading.Condition()
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="passes", daemon=True)

    def __enter__(self) -> PassLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=WAIT)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.engine.sync()
            with self.done:
                self.passes += 1
                self.done.notify_all()


_AMOUNTS = itertools.count(50_000)  # every edit sets an amount no edit set before


def _edit_latencies(hw: HttpWorld, engine: Engine, beta: dict[str, str], edits: int) -> list[float]:
    """Seconds from an agency edit (and its webhook hint) to the value at ``beta``."""
    seconds: list[float] = []
    agency_ids = sorted(beta)
    with PassLoop(engine) as loop:
        for n in range(edits):
            agency_id = agency_ids[n % len(agency_ids)]
            amount = str(next(_AMOUNTS))
            started = time.perf_counter()
            hw.world.agency.update_deal(agency_id, {"OPPORTUNITY": amount})
            hint = Hint(hw.crms["agency"].system, agency_id, HintKind.UPDATED, utcnow(), "hook")
            inbox.record(hw.store, [hint], dt.timedelta(0))

            def mirrored(partner_id: str = beta[agency_id], want: str = amount) -> bool:
                deal = hw.world.beta.get_deal(partner_id)
                return deal is not None and float(deal["OPPORTUNITY"]) == float(want)

            with loop.done:
                assert loop.done.wait_for(mirrored, WAIT), f"edit {n} never reached beta"
            seconds.append(time.perf_counter() - started)
    return seconds


def _figures(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"{label}: n={len(ordered)} p50={statistics.median(ordered):.3f}s "
        f"p99={p99:.3f}s max={ordered[-1]:.3f}s"
    )


def test_edit_to_mirrored_latency_of_another_partner_with_one_hung(
    hw: HttpWorld, hung: HungServer, capsys: pytest.CaptureFixture[str]
) -> None:
    edits = 20
    ahead = [dt.timedelta(0)]
    engine = Engine(
        hw.store,
        hw.mapping,
        hw.crms["agency"],
        {c: hw.crms[c] for c in hw.mapping.partners},
        clock=lambda: utcnow() + ahead[0],
        lanes=Lanes(deadline=5.0, probe=1.0),
        retry_delay=dt.timedelta(0),
    )
    hw.engines.append(engine)  # closed with the world
    ids = hw.world.add_agency_deals(6, ("alfa", "beta"))
    assert engine.sync().errors == {}
    beta = {a: p for a, p in _partner_ids(hw, ids, "beta").items() if p is not None}
    assert len(beta) == 3

    quiet = _edit_latencies(hw, engine, beta, edits)
    hung_alfa = _hung_alfa(hw, hung)
    engine.partners["alfa"] = hung_alfa
    with_hung = _edit_latencies(hw, engine, beta, edits)
    report = engine.sync()
    assert "alfa" in report.errors and "beta" not in report.errors
    assert hung.accepted.is_set()

    with capsys.disabled():
        print()
        print(_figures("beta edit→mirrored, alfa healthy", quiet))
        print(_figures("beta edit→mirrored, alfa hung (deadline 5 s)", with_hung))

    # With passes back to back the breaker paused alfa: past its pause it resumes.
    engine.partners["alfa"] = hw.crms["alfa"]
    assert engine.lanes.wait_idle("alfa", WAIT)
    hung_alfa.close()
    ahead[0] = dt.timedelta(minutes=15)
    assert engine.sync().errors == {}
