"""``bridge run``: store, mapping, engine, scheduler and HTTP app in one process.

This module is the daemon's lifecycle; its jobs are in
:mod:`sync.runtime.daemon_jobs`, what a pass reports in
:mod:`sync.runtime.pass_metrics`, ``/readyz`` in :mod:`sync.runtime.readiness`
the OAuth callback in :mod:`sync.runtime.grants` and the watch on the store's
file in :mod:`sync.runtime.store_guard`.

Start order matters: take the SQLite lock, open (and migrate) the store, load
and resolve mapping.yaml (nothing starts with an invalid file), then the
engine, the runner, the HTTP app, and last the scheduler. Stop order is the
reverse, except that the HTTP app stays up until the last pass has committed:
a hook that arrives during shutdown is still persisted, so nothing is lost.

The one exception to a clean stop: the store's file deleted or replaced under
the daemon. Hooks then answer 503, readiness fails, the daemon stops and
:attr:`Daemon.exit_message` says why (``bridge run`` exits 1 with it).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from bridge.config import Settings
from bridge.crm import Crm
from bridge.kpi.decline import DeclineRule
from bridge.logs import log_event
from bridge.mapping.compiled import CompiledMapping, Connection
from bridge.mapping.connect import open_crm
from bridge.mapping.resolve_cache import StoreCache, cached_pipelines
from bridge.mapping.watch import MappingWatcher
from bridge.model import Hint, Pipeline
from bridge.store import hooks, inbox
from bridge.store.db import Store, StoreFileLost, file_identity, file_problem, make_engine
from sync.engine import Engine
from sync.lanes import Lanes
from sync.runtime import readiness as ready
from sync.runtime.app import Readiness, SinkRefused, create_app
from sync.runtime.crm_pool import CrmPool, Opener
from sync.runtime.daemon_jobs import DaemonJobs, reconcile_quietly
from sync.runtime.decline_gauges import DeclineGauges
from sync.runtime.distributed import (
    AGENCY_POLL,
    POLL_TICK,
    RESOLVE_EVERY,
    Clock,
    Distributed,
    drain_lanes,
    prepare,
    scale_out,
    shared_opener,
)
from sync.runtime.grants import complete_amocrm_grant
from sync.runtime.health import HealthTracker
from sync.runtime.metrics import Metrics
from sync.runtime.outbox import enqueue_with_hints, stop_enqueueing
from sync.runtime.pass_metrics import PassMetrics
from sync.runtime.queue import QueueRunner
from sync.runtime.runner import EmbeddedRunner
from sync.runtime.schedule import build_scheduler
from sync.runtime.serve import ServerThread
from sync.runtime.single import DaemonLock
from sync.runtime.store_guard import StoreGuard
from sync.sources.inbox import STORM_DEBOUNCE, TRICKLE_DEBOUNCE, AdaptiveDebounce
from sync.web import mount as mount_web
from sync.web.wiring import web_context

log = logging.getLogger(__name__)
HOOK_LOCK_MS = 1_500  # how long a webhook waits for a locked SQLite store before a 503


class StartupFailed(RuntimeError):
    """The daemon cannot start; the message says what to fix."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    workers: int = 4
    drain_every: dt.timedelta = dt.timedelta(milliseconds=250)
    watch_every: dt.timedelta = dt.timedelta(seconds=5)
    # A save in Bitrix24 fires several events; a quarter second folds them and keeps
    # webhook-to-mirror latency under a second. In a storm (more than STORM_RATE hints a
    # second) hints wait ``storm_debounce`` instead and passes for them start once per
    # ``storm_debounce``, so the storm folds into a few passes
    # (:class:`sync.sources.inbox.AdaptiveDebounce`; None: always ``debounce``). The
    # inbox's max-wait stops starvation.
    debounce: dt.timedelta = TRICKLE_DEBOUNCE
    storm_debounce: dt.timedelta | None = STORM_DEBOUNCE
    poll_interval: dt.timedelta | None = None  # None: the mapping's policies.poll_interval
    serve_http: bool = True  # False: ``bridge worker`` (PostgreSQL only) — queue work only
    queue_concurrency: int = 4  # PostgreSQL: queue jobs (partners) this process runs at once


def mapping_watcher(path: Path, store: Store, pool: CrmPool) -> MappingWatcher:
    """The daemon's mapping watcher. Resolution is cached in the store (shared by every
    process on it): a start within the drift period reads no CRM for the accounts cached;
    the drift check re-reads live every account cached longer ago than half its period."""
    return MappingWatcher(
        path,
        pool.for_spec,
        cache=StoreCache(store.engine),
        max_age=RESOLVE_EVERY,
        drift_age=RESOLVE_EVERY / 2,
    )


class InboxSink:
    """The HTTP app's :class:`~sync.runtime.app.HintSink`: one committed transaction per request."""

    def __init__(
        self,
        store: Store,
        debounce: dt.timedelta | AdaptiveDebounce,
        lost: Callable[[], str | None] = lambda: None,
    ) -> None:
        """``debounce``: fixed, or adapting to the arrival rate."""
        self._store = store
        if isinstance(debounce, dt.timedelta):
            debounce = AdaptiveDebounce(debounce, storm=None)
        self._debounce = debounce
        self._lost = lost

    def put(self, hints: Sequence[Hint]) -> int:
        if (problem := self._lost()) is not None:
            raise SinkRefused(_refusal(problem))
        try:
            with self._store.transaction() as session:
                folded = inbox.waiting(session, hints)
                inbox.add(session, hints, self._debounce(len(hints)))
                hooks.delivered(session, hints, utcnow())
        except StoreFileLost as exc:
            raise SinkRefused(_refusal(str(exc))) from None
        return len({(h.system, h.deal_id) for h in hints} - folded)


def _refusal(problem: str) -> str:
    """What a hook's sender is told: the kind of problem, never the file's path."""
    return f"store unavailable: {problem.split(':', 1)[0]}"


class Daemon:
    """One running bridge: :meth:`start`, then :meth:`wait` for a signal, then :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        *,
        opener: Opener | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        options: DaemonOptions | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or DaemonOptions()
        self._debounce = AdaptiveDebounce(self.options.debounce, self.options.storm_debounce)
        self.clock = clock
        self.metrics = Metrics()
        self.health = HealthTracker()
        self._lock = DaemonLock(settings.db_url)
        self._scale_out = scale_out(settings.db_url)  # PostgreSQL: the shared queue
        self._distributed: Distributed | None = None
        if opener is None and self._scale_out:
            opener = shared_opener(settings.db_url)  # rate budgets shared by every process
        # OAuth partners keep their tokens in this daemon's database, not a default one.
        self._pool = CrmPool(opener or functools.partial(open_crm, db_url=settings.db_url))
        self._stopping = threading.Event()
        self.store: Store | None = None
        self._hook_store: Store | None = None
        self.engine: Engine | None = None
        self.watcher: MappingWatcher | None = None
        self.runner: EmbeddedRunner | QueueRunner | None = None
        self.jobs: DaemonJobs | None = None
        self.server: ServerThread | None = None
        self._scheduler: BackgroundScheduler | None = None
        self.guard: StoreGuard | None = None
        self.exit_message: str | None = None  # set when the daemon stopped itself on a fault

    def start(self) -> Daemon:
        self._lock.acquire()
        try:
            self._start_parts()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_parts(self) -> None:
        self.store = Store.open(self.settings.db_url)
        if self._scale_out:
            prepare(self.settings.db_url)
        store = self.store
        self.guard = StoreGuard(lambda: file_problem(store.engine), self._store_lost)
        self.watcher = mapping_watcher(self.settings.mapping_path, self.store, self._pool)
        if not self.watcher.poll():
            problems = "\n".join(f"  {p}" for p in self.watcher.rejected) or "  (unreadable)"
            raise StartupFailed(f"{self.settings.mapping_path} is not usable:\n{problems}")
        mapping = self._mapping()
        crms = self._pool.current()
        partners = {c: crm for c, crm in crms.items() if c in mapping.partners}
        lanes = Lanes(self.settings.partner_deadline, self.settings.partner_probe)
        # The embedded daemon ends a pass without a late partner's lane (it goes on
        # alone and sets its partner aside meanwhile); the distributed runner's pass
        # holds the queue's pass lock, so it waits for every lane it started.
        self.engine = Engine(
            self.store,
            mapping,
            crms["agency"],
            partners,
            clock=self.clock,
            lanes=lanes,
            concurrency=self.settings.partner_concurrency,
            pass_wait=None if self._scale_out else self.settings.pass_wait,
        )
        if self._scale_out:  # every process would read each pipeline again: take the shared
            self.engine.pipelines_from = functools.partial(self._cached_pipelines, self.store)
        queue_host = _QueueHost(self)
        if self._scale_out:
            clock = self._queue_clock(mapping)
            self._distributed = Distributed(
                queue_host, self.settings.db_url, clock, concurrency=self.options.queue_concurrency
            )
            self.runner = self._distributed.runner
        else:
            self.runner = EmbeddedRunner(self.options.workers, on_error=self._job_failed)
        jobs = self.jobs = DaemonJobs(
            store=self.store,
            engine=self.engine,
            runner=self.runner,
            watcher=self.watcher,
            mapping=self._mapping,
            crms=self._pool.current,
            observer=PassMetrics(
                self.store,
                self._pool.current,
                self.metrics,
                self.health,
                self.clock,
                declines=DeclineGauges(self.store, self.metrics, self._decline_rule, self.clock),
            ),
            stopping=self._stopping,
            clock=self.clock,
            event_max_age=self.settings.event_max_age,
            may_drain=self._debounce.may_drain,
        )
        # Hooks get their own connections with a short lock wait: a locked store must
        # answer 503 within amoCRM's 2 s, not after the engine's 30 s busy timeout.
        # They are pinned to the file the store opened, even before their first connection.
        self._hook_store = Store(
            make_engine(
                self.settings.db_url,
                busy_timeout_ms=HOOK_LOCK_MS,
                pinned=file_identity(self.store.engine),
            )
        )
        if self._distributed is not None:  # hints and their lanes' jobs: one transaction
            enqueue_with_hints(
                self._distributed.runner,
                store.engine,
                self._hook_store.engine,
                lanes=queue_host.lanes,
            )
        app = create_app(
            sink=InboxSink(self._hook_store, self._debounce, self._lost),
            routes=lambda: jobs.routes,
            readiness=self.readiness,
            metrics=self.metrics,
            admin_token=self.settings.admin_token,
            oauth_callback=self._oauth_callback,
        )
        mount_web(app, web_context(self))  # the console and the partner cabinet
        host, port = self.settings.http_host, self.settings.http_port
        if self.options.serve_http:
            self.server = ServerThread(app, host=host, port=port).start()
        if self._distributed is not None:
            self._distributed.runner.share(jobs.run_pass, POLL_TICK)
            self._scheduler = self._distributed.local_scheduler()
            self._distributed.start_worker()
        else:
            plan = jobs.plan(self.options.poll_interval, self.options.drain_every)
            self._scheduler = build_scheduler(plan, self.runner)
        self.guard.start()
        if self._distributed is None or not self._distributed.runner.active(AGENCY_POLL):
            # A process joining running ones does not queue a poll of its own: the one
            # waiting or running covers everything (the cursors are shared).
            jobs.first_pass()
        self._scheduler.start()
        url = self.server.url if self.server is not None else None
        log_event(log, "daemon.started", url=url, partners=len(mapping.partners))

    def request_stop(self) -> None:
        self._stopping.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`request_stop` (e.g. from a signal handler). True if it came."""
        return self._stopping.wait(timeout)

    def stop(self) -> None:
        """Stop taking work, finish the pass in flight, commit, close everything."""
        self._stopping.set()
        if self.guard is not None:
            self.guard.stop()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._distributed is not None:
            self._distributed.stop()
        for opened in (self.store, self._hook_store):
            if opened is not None:
                stop_enqueueing(opened.engine)
        if self.runner is not None:
            self.runner.shutdown(wait=True)
        if self.engine is not None:
            self.engine.close()  # partners' lanes still running end (each within its deadline)
        if self.server is not None:
            self.server.stop()
        self._pool.close()
        for store in (self.store, self._hook_store):
            if store is not None:
                store.close()
        self._lock.release()
        log_event(log, "daemon.stopped")

    def readiness(self) -> Readiness:
        base = ready.readiness(self.store, self.watcher, self.clock(), store_lost=self._lost())
        if self._distributed is None:
            return base
        checks = {**base.checks, "queue": self._distributed.health()}
        return Readiness(base.ready and checks["queue"] == "ok", checks)

    def _queue_clock(self, mapping: CompiledMapping) -> Clock:
        interval = self.options.poll_interval or mapping.policies.poll_interval
        return Clock(interval, mapping.policies.reconcile_at, watch_every=self.options.watch_every)

    def _cached_pipelines(
        self, store: Store, connection: Connection
    ) -> tuple[Pipeline, ...] | None:
        """An account's pipelines as the shared resolution last read them (at most one
        re-resolve period old), so a process reads no pipeline another one resolved."""
        return cached_pipelines(store.engine, connection, self.clock() - RESOLVE_EVERY)

    def _lost(self) -> str | None:
        return self.guard.lost if self.guard is not None else None

    def _store_lost(self, problem: str) -> None:
        """The guard tripped: stop taking work; ``bridge run`` exits 1 with this line."""
        self.exit_message = (
            f"store {problem} — the daemon stopped; restore the database file and start again"
        )
        self.request_stop()

    def crms(self) -> dict[str, Crm]:
        return self._pool.current()

    def inbox_empty(self) -> bool:
        """No hint waits, due or not (tests and shutdown reports use this)."""
        assert self.store is not None
        with self.store.transaction() as session:
            return not any(inbox.pending_count(session).values())

    def _oauth_callback(self, code: str, state: str) -> str:
        assert self.store is not None and self.jobs is not None
        return complete_amocrm_grant(
            code,
            state,
            store=self.store,
            partners=self._mapping().partners,
            on_granted=self.jobs.reresolve_soon,
        )

    def _job_failed(self, lane: str, exc: BaseException) -> None:
        self.health.failed(f"lane:{lane}", exc)

    def _decline_rule(self) -> DeclineRule | None:
        compiled = self.watcher.compiled if self.watcher is not None else None
        return compiled.decline if compiled is not None else None

    def _mapping(self) -> CompiledMapping:
        assert self.watcher is not None
        compiled = self.watcher.compiled
        if compiled is None:
            raise StartupFailed("no valid mapping is active")
        return compiled


class _QueueHost:
    """What the shared queue's handlers run in this process (:class:`~sync.runtime.
    distributed.QueueHost`): the daemon's jobs, run in place rather than queued again."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    def _jobs(self) -> DaemonJobs:
        assert self._daemon.jobs is not None
        return self._daemon.jobs

    def _queue(self) -> Distributed:
        assert self._daemon._distributed is not None
        return self._daemon._distributed

    def _engine(self) -> Engine:
        assert self._daemon.engine is not None
        return self._daemon.engine

    def poll_tick(self) -> None:
        self._queue().poll_all()

    def drain_tick(self) -> None:
        """Queue the jobs of the lanes that have hints due (those recorded with their
        jobs already have one waiting: this finds the rest, e.g. a retry's)."""
        assert self._daemon.store is not None
        with self._daemon.store.transaction() as session:
            due = inbox.targets(session, self._daemon.clock())
        if due:
            self._queue().drain(self.lanes(due))

    def lanes(self, targets: Iterable[tuple[str, str | None]]) -> set[str]:
        """Which lanes handle hints of these (system, address) pairs (the outbox's router)."""
        engine = self._engine()
        partners = {c: crm.system for c, crm in engine.partners.items()}
        known = {f"partner:{c}" for c in engine.mapping.partners} | {"agency"}
        return drain_lanes(targets, engine.agency.system, partners) & known

    def agency_pass(self, *, poll: bool) -> None:
        self._jobs().agency_pass(poll=poll)

    def partner_pass(self, code: str, *, poll: bool) -> None:
        self._jobs().partner_pass(code, poll=poll)

    def reconcile_now(self) -> None:
        """The reconcile queues hints (their partners' jobs go with them), then a poll."""
        reconcile_quietly(self._engine(), then_pass=False)
        self.poll_tick()

    def daily(self) -> None:
        self._jobs().daily()

    def watch_mapping(self) -> None:
        self._jobs().watch_mapping()

    def reresolve(self) -> None:
        self._jobs().reresolve()
