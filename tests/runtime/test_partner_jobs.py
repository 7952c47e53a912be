"""Scale-out on PostgreSQL: one job per partner, so different partners sync on different
workers at once, one partner on one worker at a time, and an agency change reaches its
partner exactly once (the agency job routes it as a hint addressed to that partner)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bridge.crm import Crm
from bridge.mapping.compiled import Connection
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store.db import Store
from sync.engine import Engine, PassReport
from sync.runtime.daemon import Daemon, DaemonOptions
from sync.runtime.distributed import PARTNER_POLL, partner_lane, shared_opener
from sync.runtime.queue import QueueRunner
from tests.daemon.helpers import partner_deal_id, route_new_deal, wait_for
from tests.pg import fresh_database

pytestmark = pytest.mark.postgres

# One job at a time per process: two processes, so two jobs at once means two workers.
OPTIONS = DaemonOptions(
    poll_interval=dt.timedelta(hours=1),
    watch_every=dt.timedelta(seconds=1),
    queue_concurrency=1,
)
GATE_TIMEOUT = 60.0  # seconds alfa's poll waits for beta's job before giving up (a failure)


class Gated:
    """A partner CRM whose listing says it started (``sets``), then waits for the other
    partner's listing to start (``waits``): the two partners' jobs get through only if
    they run side by side. Once both met, listings pass straight through."""

    def __init__(
        self, crm: Crm, *, sets: threading.Event, waits: threading.Event, failed: list[str]
    ) -> None:
        self._crm = crm
        self._sets = sets
        self._waits = waits
        self._failed = failed

    def list_changed(self, *args: Any, **kwargs: Any) -> Any:
        self._sets.set()
        if not self._waits.wait(GATE_TIMEOUT):
            self._failed.append(f"{self._crm.system}: the other partner's job never ran alongside")
        return self._crm.list_changed(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._crm, name)


@dataclasses.dataclass
class Watch:
    """Partner jobs running now, across every process: none may run twice at once."""

    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    running: Counter[str] = dataclasses.field(default_factory=Counter)
    most: Counter[str] = dataclasses.field(default_factory=Counter)
    runs: Counter[str] = dataclasses.field(default_factory=Counter)

    def wrap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every engine's passes in this process (both daemons) are watched."""
        sync = Engine.sync

        def watched(engine: Engine, partner: str | None = None, **kwargs: Any) -> PassReport:
            code = partner or "*"
            with self.lock:
                self.running[code] += 1
                self.runs[code] += 1
                self.most[code] = max(self.most[code], self.running[code])
            try:
                return sync(engine, partner, **kwargs)
            finally:
                with self.lock:
                    self.running[code] -= 1

        monkeypatch.setattr(Engine, "sync", watched)


@pytest.fixture
def world(tmp_path: Path, pg_url: str) -> Iterator[tuple[SandboxWorld, str]]:
    with fresh_database("pb_partnerjobs_") as url, sandbox_world(tmp_path) as started:
        yield started, url


def test_partners_sync_on_two_workers_at_once_one_partner_at_a_time_each_change_once(
    world: tuple[SandboxWorld, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandboxes, url = world
    settings = dataclasses.replace(sandboxes.settings(), db_url=url)
    alfa_lists, beta_lists = threading.Event(), threading.Event()
    failed: list[str] = []
    shared = shared_opener(url)

    def opener(label: str, connection: Connection) -> Crm:
        crm = shared(label, connection)
        if label == "alfa":
            return Gated(crm, sets=alfa_lists, waits=beta_lists, failed=failed)
        if label == "beta":
            return Gated(crm, sets=beta_lists, waits=alfa_lists, failed=failed)
        return crm

    watch = Watch()
    watch.wrap(monkeypatch)
    run = Daemon(settings, opener=opener, options=OPTIONS)
    worker = Daemon(settings, opener=opener, options=dataclasses.replace(OPTIONS, serve_http=False))
    daemons = [run, worker]
    queue = QueueRunner(url, {}, _NoLocal())
    try:
        run.start()
        assert isinstance(run.runner, QueueRunner)
        worker.start()
        # alfa's and beta's first polls each wait in their CRM for the other's to start;
        # each process runs one job at a time, so only the two workers side by side pass
        assert wait_for(lambda: alfa_lists.is_set() or None, timeout=60)
        for _ in range(3):  # more alfa jobs while one runs: its lane keeps them waiting
            queue.defer(PARTNER_POLL, partner_lane("alfa"))
        assert run.runner.wait_idle(120), "the first jobs did not finish"
        assert failed == []
        assert alfa_lists.is_set() and beta_lists.is_set()
        assert watch.runs["alfa"] >= 2 and watch.runs["beta"] >= 1
        assert watch.most["alfa"] == 1 and watch.most["beta"] == 1, watch.most
        assert watch.runs["*"] == 0  # no whole pass anywhere: every pass is one partner's

        assert run.server is not None
        sandboxes.connect_webhooks(run.server.url)
        ids = [route_new_deal(sandboxes, run, code, n) for n, code in enumerate(["alfa", "beta"])]
        for code, deal_id in zip(["alfa", "beta"], ids, strict=True):
            assert wait_for(functools.partial(partner_deal_id, run, code, deal_id), timeout=60)
        assert run.runner.wait_idle(60)
        queue.defer("pass:poll", "ticks")  # one more poll everywhere: still nothing twice
        assert run.runner.wait_idle(60)
        for code, deal_id in zip(["alfa", "beta"], ids, strict=True):
            other = "beta" if code == "alfa" else "alfa"
            assert len(run.crms()[code].find_by_stamp([deal_id])) == 1  # once, to its partner
            assert run.crms()[other].find_by_stamp([deal_id]) == {}
        assert watch.most["alfa"] == 1 and watch.most["beta"] == 1, watch.most
    finally:
        queue.shutdown()
        for daemon in daemons:
            daemon.stop()
    store = Store.open(url, upgrade=False)
    try:
        with store.engine.connect() as connection:
            left = connection.execute(text("SELECT count(*) FROM hint")).scalar_one()
            linked = connection.execute(
                text("SELECT partner_code, count(*) FROM link GROUP BY partner_code")
            ).all()
    finally:
        store.close()
    assert left == 0  # every routed hint was taken by its partner's job
    assert {code for code, _ in linked} >= {"alfa", "beta"}


class _NoLocal:
    """The test's queue client runs nothing locally."""

    def submit(self, lane: str, job: Any) -> bool:
        raise AssertionError("not used")

    def wait_idle(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, *, wait: bool = True) -> None:
        return None
