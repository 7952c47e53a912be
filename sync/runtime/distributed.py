"""Scale-out wiring of a daemon on PostgreSQL: which work is shared, which stays local.

Shared (the queue, :mod:`sync.runtime.queue`), run once across all processes. One
job per (partner, kind of work), each on its own lane (the queue ``lock``), so one
partner is synced by one worker at a time and different partners by different
workers at once:

* ``agency:poll`` / ``agency:drain`` on lane ``agency`` — the agency job: lists the
  agency's window since its cursor (poll) and takes its due webhook hints, works out
  which partners each agency deal concerns (routing field, links, fan-out) and, in
  one transaction, records hints addressed to them, queues their partner jobs, moves
  the agency cursor and marks the hints it took done (:meth:`~sync.engine.Engine.fan_out`);
* ``partner:poll`` / ``partner:drain`` on lane ``partner:<code>`` — one partner's
  share of a pass, the embedded runner's lane code (:meth:`~sync.engine.Engine.sync`
  with ``routed=True``): its own window and hints and the agency hints addressed to it,
  never the agency's window or cursor;
* ``pass:poll`` — the poll tick (every poll interval, and at start): queues the agency
  poll job, which queues every partner's poll job in the transaction that routes the
  agency's changes to them, so a partner lists its own changes and takes the agency's
  in one job; ``pass:drain`` — the hint tick (every 2 s): queues
  the job of every partner (or the agency) that has hints due. Both only queue; the
  queueing lock (lane + kind) keeps one job of a kind waiting per lane, so ticks and
  webhooks never pile jobs up. Hints recorded anywhere queue their jobs in their own
  transaction (:mod:`sync.runtime.outbox`); the tick is the safety net;
* ``reconcile`` (lane ``sync-pass``) — the nightly reconcile, whose hints go the
  same way; ``daily`` — membership fees and the partners' digests.

A worker that dies mid-job is replaced by another within about a minute (the
stalled-job retry); its lane stays locked by the dead job until then, so a partner
is never synced twice at once.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bridge.mapping.connect import Opener, open_crm
from bridge.store.db import make_engine
from sync.runtime.queue import (
    Handler,
    LaneHandler,
    Periodic,
    QueueRunner,
    QueueWorker,
    apply_schema,
    build_app,
    every,
)
from sync.runtime.runner import EmbeddedRunner
from sync.runtime.shared_budget import SharedBudgets, ensure_budget_table

PASS_LANE = "sync-pass"  # noqa: S105 - the reconcile's lane, not a credential
DAILY_LANE = "daily"
TICK_LANE = "ticks"
AGENCY_LANE = "agency"
PARTNER_PREFIX = "partner:"
POLL_TICK = "pass:poll"
DRAIN_TICK = "pass:drain"
AGENCY_POLL, AGENCY_DRAIN = "agency:poll", "agency:drain"
PARTNER_POLL, PARTNER_DRAIN = "partner:poll", "partner:drain"
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


def partner_lane(code: str) -> str:
    return f"{PARTNER_PREFIX}{code}"


def partner_of(lane: str) -> str:
    """The partner's code of a ``partner:<code>`` lane."""
    if not lane.startswith(PARTNER_PREFIX):
        raise ValueError(f"not a partner's lane: {lane!r}")
    return lane.removeprefix(PARTNER_PREFIX)


def drain_lanes(
    targets: Iterable[tuple[str, str | None]], agency_system: str, partners: Mapping[str, str]
) -> set[str]:
    """The lanes whose drain job handles hints of these (system, address) pairs: an
    addressed hint its partner's, an agency hint the agency's, a partner system's hint
    every partner on that system (``partners``: code → system)."""
    lanes: set[str] = set()
    for system, address in targets:
        if address is not None:
            lanes.add(partner_lane(address))
        elif system == agency_system:
            lanes.add(AGENCY_LANE)
        else:
            lanes.update(partner_lane(c) for c, s in partners.items() if s == system)
    return lanes


def drain_job(lane: str) -> str:
    return AGENCY_DRAIN if lane == AGENCY_LANE else PARTNER_DRAIN


class QueueHost(Protocol):
    """What the daemon offers the queue's handlers."""

    def poll_tick(self) -> None: ...
    def drain_tick(self) -> None: ...
    def agency_pass(self, *, poll: bool) -> None: ...
    def partner_pass(self, code: str, *, poll: bool) -> None: ...
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
        Periodic(POLL_TICK, TICK_LANE, every(clock.poll_every.total_seconds())),
        Periodic(DRAIN_TICK, TICK_LANE, every(DRAIN_EVERY.total_seconds())),
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
            POLL_TICK: host.poll_tick,
            DRAIN_TICK: host.drain_tick,
            AGENCY_POLL: functools.partial(host.agency_pass, poll=True),
            AGENCY_DRAIN: functools.partial(host.agency_pass, poll=False),
            "reconcile": host.reconcile_now,
            "daily": host.daily,
        }

    def lane_handlers(self) -> dict[str, LaneHandler]:
        """The partner jobs: one handler each for every partner, told it by the lane."""
        host = self._host

        def partner(poll: bool) -> LaneHandler:
            return lambda lane: host.partner_pass(partner_of(lane), poll=poll)

        return {PARTNER_POLL: partner(True), PARTNER_DRAIN: partner(False)}

    def poll_all(self) -> bool:
        """Queue the agency's poll job, which queues every partner's poll job with the
        agency changes it routes to them (one job per partner for both); False when one
        already waits."""
        return self.runner.defer(AGENCY_POLL, AGENCY_LANE)

    def drain(self, lanes: Iterable[str]) -> int:
        """Queue the drain job of each lane (agency or a partner's)."""
        return sum(self.runner.defer(drain_job(lane), lane) for lane in sorted(lanes))

    def start_worker(self) -> QueueWorker:
        app = build_app(self._db_url, periodics(self._clock))
        name = f"{socket.gethostname()}:{os.getpid()}"
        worker = QueueWorker(
            app,
            self.handlers(),
            concurrency=self._concurrency,
            name=name,
            lane_handlers=self.lane_handlers(),
        )
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
