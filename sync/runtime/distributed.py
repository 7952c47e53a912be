"""Scale-out wiring of a daemon on PostgreSQL: which work is shared, which stays local.

Shared (the queue, :mod:`sync.runtime.queue`), run once across all processes:

* ``pass:poll`` — a sync pass that lists changes since the cursors (every poll interval),
* ``pass:drain`` — a pass over due webhook hints only (every few seconds, when any are due),
* ``reconcile`` — the nightly reconcile,
* ``daily`` — membership fees and the partners' digests.

The three pass kinds share one lane (the queue ``lock``): the engine's pass covers
the agency and every partner, so two passes never run at once anywhere, and a
worker that dies mid-pass is replaced by another within about a minute. Inside the
pass the code path is the embedded runner's: the agency side is read once, then every
partner's share runs in its own lane (:mod:`sync.engine`), concurrently. Here the pass
waits for every lane it started (``pass_wait=None``), because the queue lock that
keeps one partner on one worker at a time is the pass's; a lane that outlived its pass
could meet the next pass's lane for the same partner on another worker.

Local to each process (its own clock, :class:`~sync.runtime.runner.EmbeddedRunner`):
re-reading its own mapping file and re-resolving that mapping against the CRMs,
because each process holds its own compiled copy. A change it finds asks the
queue for a polling pass.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
from dataclasses import dataclass
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bridge.mapping.connect import Opener, open_crm
from bridge.store.db import make_engine
from sync.runtime.queue import (
    Handler,
    Periodic,
    QueueRunner,
    QueueWorker,
    apply_schema,
    build_app,
    every,
)
from sync.runtime.runner import EmbeddedRunner
from sync.runtime.shared_budget import SharedBudgets, ensure_budget_table

PASS_LANE = "sync-pass"  # noqa: S105 - the daemon's pass lane, not a credential
DAILY_LANE = "daily"
DRAIN_EVERY = dt.timedelta(seconds=2)
RESOLVE_EVERY = dt.timedelta(minutes=10)


def scale_out(db_url: str) -> bool:
    """PostgreSQL stores run the distributed runner; SQLite keeps the embedded one."""
    return make_url(db_url).get_backend_name() == "postgresql"


def shared_opener(db_url: str) -> Opener:
    """Open CRMs whose rate budgets are shared with every process on this database.

    Connects lazily: :func:`prepare` creates the budget table before any CRM is opened.
    """
    engine = make_engine(db_url, pool_size=2, max_overflow=4)
    return functools.partial(open_crm, db_url=db_url, pacers=SharedBudgets(engine))


def prepare(db_url: str) -> None:
    """The queue's schema and the budget table, created if missing (safe to race)."""
    apply_schema(db_url)
    engine = make_engine(db_url)
    try:
        ensure_budget_table(engine)
    finally:
        engine.dispose()


class QueueHost(Protocol):
    """What the daemon offers the queue's handlers."""

    def run_pass(self, *, poll: bool) -> None: ...
    def drain_due(self) -> None: ...
    def reconcile_now(self) -> None: ...
    def daily(self) -> None: ...
    def watch_mapping(self) -> None: ...
    def reresolve(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Clock:
    poll_every: dt.timedelta
    reconcile_at: dt.time
    digest_at: dt.time = dt.time(7, 0)
    watch_every: dt.timedelta = dt.timedelta(seconds=5)


def periodics(clock: Clock) -> list[Periodic]:
    return [
        Periodic("pass:poll", PASS_LANE, every(clock.poll_every.total_seconds())),
        Periodic("pass:drain", PASS_LANE, every(DRAIN_EVERY.total_seconds())),
        Periodic(
            "reconcile", PASS_LANE, f"{clock.reconcile_at.minute} {clock.reconcile_at.hour} * * *"
        ),
        Periodic("daily", DAILY_LANE, f"{clock.digest_at.minute} {clock.digest_at.hour} * * *"),
    ]


class Distributed:
    """The queue runner, a worker (unless ``worker=False``) and the local clock."""

    def __init__(self, host: QueueHost, db_url: str, clock: Clock, *, concurrency: int = 4) -> None:
        self._host = host
        self._db_url = db_url
        self._clock = clock
        self._concurrency = concurrency
        self._local = EmbeddedRunner(2)
        self.runner = QueueRunner(db_url, {}, self._local)
        self.worker: QueueWorker | None = None

    def handlers(self) -> dict[str, Handler]:
        host = self._host
        return {
            "pass:poll": functools.partial(host.run_pass, poll=True),
            "pass:drain": host.drain_due,
            "reconcile": host.reconcile_now,
            "daily": host.daily,
        }

    def start_worker(self) -> QueueWorker:
        app = build_app(self._db_url, periodics(self._clock))
        name = f"{socket.gethostname()}:{os.getpid()}"
        worker = QueueWorker(app, self.handlers(), concurrency=self._concurrency, name=name)
        self.worker = worker.start()
        return worker

    def local_scheduler(self) -> BackgroundScheduler:
        """This process's own ticks: its mapping file, and resolving it against the CRMs."""
        scheduler = BackgroundScheduler(timezone=dt.UTC)
        for name, interval, job in (
            ("watch-mapping", self._clock.watch_every, self._host.watch_mapping),
            ("resolve-mapping", RESOLVE_EVERY, self._host.reresolve),
        ):
            scheduler.add_job(
                self.runner.submit,
                IntervalTrigger(seconds=interval.total_seconds(), timezone=dt.UTC),
                args=(name, job),
                id=name,
                coalesce=True,
                max_instances=1,
            )
        return scheduler

    def health(self) -> str:
        """``ok`` while this process's queue worker runs, else why it stopped."""
        worker = self.worker
        if worker is None or worker.alive():
            return "ok"
        return f"worker stopped: {type(worker.error).__name__ if worker.error else 'exited'}"

    def stop(self) -> None:
        """Stop taking queue jobs; the job in flight finishes first."""
        if self.worker is not None:
            self.worker.stop()
