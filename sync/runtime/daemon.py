"""``bridge run``: store, mapping, engine, scheduler and HTTP app in one process.

Start order matters: take the SQLite lock, open (and migrate) the store, load
and resolve mapping.yaml (nothing starts with an invalid file), then the
engine, the runner, the HTTP app, and last the scheduler. Stop order is the
reverse, except that the HTTP app stays up until the last pass has committed:
a hook that arrives during shutdown is still persisted, so nothing is lost.

Every sync pass runs on one runner lane. A poll tick and an inbox tick both ask
for "a pass"; the pass itself decides whether to poll (a poll was requested
since the last one) or only to drain due hints. So coalescing two requests into
one never loses a poll.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from bridge.config import Settings
from bridge.crm import Crm
from bridge.logs import log_event
from bridge.mapping.compiled import CompiledMapping, Side
from bridge.mapping.connect import open_crm
from bridge.mapping.texts import notice_overrides
from bridge.mapping.watch import MappingWatcher
from bridge.model import Hint
from bridge.secrets import Secret
from bridge.store import Store, hooks, inbox
from bridge.store.db import make_engine
from sync.engine import Engine
from sync.plan.types import AddNote, LinkPlan, UpdateDeal
from sync.runtime.app import HookRejected, HookRoutes, Readiness, create_app
from sync.runtime.crm_pool import CrmPool, Opener
from sync.runtime.health import HealthTracker
from sync.runtime.metrics import Metrics
from sync.runtime.runner import EmbeddedRunner
from sync.runtime.schedule import Plan, PollTarget, build_scheduler
from sync.runtime.serve import ServerThread
from sync.runtime.single import DaemonLock
from sync.sources import reconcile as reconciler
from sync.sources.webhooks import build_routes
from sync.web import mount as mount_web
from sync.web.wiring import web_context

log = logging.getLogger(__name__)
HOOK_LOCK_MS = 1_500  # how long a webhook waits for a locked SQLite store before a 503
PASS_LANE = "sync-pass"  # noqa: S105 - a runner lane name, not a credential


class StartupFailed(RuntimeError):
    """The daemon cannot start; the message says what to fix."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    workers: int = 4
    drain_every: dt.timedelta = dt.timedelta(milliseconds=500)
    watch_every: dt.timedelta = dt.timedelta(seconds=5)
    # A save in Bitrix24 fires several events; half a second folds them and keeps
    # webhook-to-mirror latency near a second. The inbox's max-wait stops starvation.
    debounce: dt.timedelta = dt.timedelta(milliseconds=500)
    poll_interval: dt.timedelta | None = None  # None: the mapping's policies.poll_interval


class InboxSink:
    """The HTTP app's :class:`~sync.runtime.app.HintSink`: one committed transaction per request."""

    def __init__(self, store: Store, debounce: dt.timedelta) -> None:
        self._store = store
        self._debounce = debounce

    def put(self, hints: Sequence[Hint]) -> int:
        with self._store.transaction() as session:
            folded = inbox.waiting(session, hints)
            inbox.add(session, hints, self._debounce)
            hooks.delivered(session, hints, utcnow())
        return len({(h.system, h.deal_id) for h in hints} - folded)


class AdapterUsage:
    """Feeds per-account request and rate-limit-wait counters from the adapters' totals."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._seen: dict[tuple[str, str], float] = {}

    def observe(self, crms: Mapping[str, Crm]) -> None:
        for crm in crms.values():
            self._add(crm.system, "requests", getattr(crm, "requests", None))
            pacer = getattr(
                getattr(crm, "http", None) or getattr(crm, "_http", None), "pacer", None
            )
            self._add(crm.system, "waited", getattr(pacer, "waited", None))

    def _add(self, account: str, what: str, total: object) -> None:
        if not isinstance(total, int | float):
            return
        delta = float(total) - self._seen.get((account, what), 0.0)
        self._seen[(account, what)] = float(total)
        if delta > 0:
            counter = (
                self._metrics.api_calls if what == "requests" else self._metrics.rate_limit_wait
            )
            counter.labels(account).inc(delta)


def _reconcile_quietly(engine: Engine) -> None:
    report = reconciler.reconcile(engine)
    log_event(
        log,
        "reconcile.done",
        missing={code: len(ids) for code, ids in report.missing.items()},
        unlinked=len(report.unlinked),
        agency_missing=len(report.agency_missing),
        errors=report.errors or None,
    )


class Daemon:
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
        self.clock = clock
        self.metrics = Metrics()
        self.health = HealthTracker()
        self._lock = DaemonLock(settings.db_url)
        # OAuth partners keep their tokens in this daemon's database, not a default one.
        self._pool = CrmPool(opener or functools.partial(open_crm, db_url=settings.db_url))
        self._stopping = threading.Event()
        self._poll_wanted = threading.Event()
        self._routes = HookRoutes()
        self._usage = AdapterUsage(self.metrics)
        self.store: Store | None = None
        self._hook_store: Store | None = None
        self.engine: Engine | None = None
        self.watcher: MappingWatcher | None = None
        self.runner: EmbeddedRunner | None = None
        self.server: ServerThread | None = None
        self._scheduler: BackgroundScheduler | None = None

    # --- lifecycle ---------------------------------------------------------------
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
        self.watcher = MappingWatcher(self.settings.mapping_path, self._pool.for_spec)
        if not self.watcher.poll():
            problems = "\n".join(f"  {p}" for p in self.watcher.rejected) or "  (unreadable)"
            raise StartupFailed(f"{self.settings.mapping_path} is not usable:\n{problems}")
        mapping = self._mapping()
        crms = self._pool.current()
        partners = {c: crm for c, crm in crms.items() if c in mapping.partners}
        self.engine = Engine(self.store, mapping, crms["agency"], partners, clock=self.clock)
        self._routes = build_routes(
            mapping,
            {label: crm.system for label, crm in crms.items()},
            self.settings.event_max_age,
        )
        self.runner = EmbeddedRunner(self.options.workers, on_error=self._job_failed)
        # Hooks get their own connections with a short lock wait: a locked store must
        # answer 503 within amoCRM's 2 s, not after the engine's 30 s busy timeout.
        self._hook_store = Store(make_engine(self.settings.db_url, busy_timeout_ms=HOOK_LOCK_MS))
        app = create_app(
            sink=InboxSink(self._hook_store, self.options.debounce),
            routes=lambda: self._routes,
            readiness=self.readiness,
            metrics=self.metrics,
            admin_token=self.settings.admin_token,
            oauth_callback=self._oauth_callback,
        )
        mount_web(app, web_context(self))  # the console and the partner cabinet
        host, port = self.settings.http_host, self.settings.http_port
        self.server = ServerThread(app, host=host, port=port).start()
        self._scheduler = build_scheduler(self._plan(mapping), self.runner)
        self._poll_wanted.set()  # the first pass polls: catch up on what happened while down
        self.runner.submit(PASS_LANE, self._pass)
        self._scheduler.start()
        log_event(log, "daemon.started", url=self.server.url, partners=len(mapping.partners))

    def request_stop(self) -> None:
        self._stopping.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`request_stop` (e.g. from a signal handler). True if it came."""
        return self._stopping.wait(timeout)

    def stop(self) -> None:
        """Stop taking work, finish the pass in flight, commit, close everything."""
        self._stopping.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self.runner is not None:
            self.runner.shutdown(wait=True)
        if self.server is not None:
            self.server.stop()
        self._pool.close()
        for store in (self.store, self._hook_store):
            if store is not None:
                store.close()
        self._lock.release()
        log_event(log, "daemon.stopped")

    # --- jobs --------------------------------------------------------------------
    def _plan(self, mapping: CompiledMapping) -> Plan:
        interval = self.options.poll_interval or mapping.policies.poll_interval
        return Plan(
            polls=(PollTarget("poll", interval, self._want_poll),),
            drain_inbox=self._drain,
            reconcile=self._reconcile,
            resolve_mapping=self._reresolve,
            digest=self._daily,
            drain_every=self.options.drain_every,
            reconcile_at=mapping.policies.reconcile_at,
        )

    def _want_poll(self) -> None:
        self._poll_wanted.set()
        self._submit_pass()

    def _drain(self) -> None:
        """Cheap check on the scheduler's lane: ask for a pass only when hints are due."""
        self._watch_mapping()
        if self._hints_due():
            self._submit_pass()

    def _submit_pass(self) -> None:
        if self.runner is not None and not self._stopping.is_set():
            self.runner.submit(PASS_LANE, self._pass)

    def _hints_due(self) -> bool:
        assert self.store is not None
        with self.store.transaction() as session:
            return bool(inbox.due(session, self.clock(), limit=1))

    def inbox_empty(self) -> bool:
        """No hint waits, due or not (tests and shutdown reports use this)."""
        assert self.store is not None
        with self.store.transaction() as session:
            return not any(inbox.pending_count(session).values())

    def _pass(self) -> None:
        assert self.engine is not None
        polling = self._poll_wanted.is_set()
        self._poll_wanted.clear()
        started = self.clock()
        report = self.engine.sync(poll=polling)
        self._count_writes(report.plans)
        self._observe(report.errors, report.writes, started, polling)

    def _observe(
        self, errors: Mapping[str, str], writes: int, started: dt.datetime, polled: bool
    ) -> None:
        crms = self._pool.current()
        for label, crm in crms.items():
            if label in errors:
                self.health.failed(crm.system, RuntimeError(errors[label]))
            else:
                self.health.succeeded(crm.system)
        seconds = (self.clock() - started).total_seconds()
        self.metrics.sync_latency.labels("poll" if polled else "webhook").observe(seconds)
        self._usage.observe(crms)
        self._store_gauges()
        if writes:
            log_event(log, "pass.done", writes=writes, polled=polled, seconds=round(seconds, 3))

    def _count_writes(self, plans: Sequence[LinkPlan]) -> None:
        crms = self._pool.current()
        for plan in plans:
            for op in plan.writes:
                agency_side = isinstance(op, UpdateDeal | AddNote) and op.side is Side.AGENCY
                crm = crms.get("agency" if agency_side else plan.link_key[1])
                if crm is not None:
                    self.metrics.writes.labels(crm.system).inc()

    def _store_gauges(self) -> None:
        """Parked links and open balances, as gauges (derived from the store, never kept)."""
        assert self.store is not None
        from bridge.ledger import book
        from bridge.ledger.balances import balances
        from bridge.store import links

        with self.store.transaction() as session:
            by_status = links.counts_by_status(session)
            entries = book.read(session)
        for partner, counts in by_status.items():
            self.metrics.parked.labels(partner).set(counts.get("parked", 0))
        for row in balances(entries, self.clock()):
            labels = (row.partner, row.payer.value, row.currency)
            self.metrics.ledger_balance.labels(*labels).set(float(row.balance))

    def _reconcile(self) -> None:
        """Nightly, on the pass lane: a reconcile never overlaps a sync pass."""
        engine, runner = self.engine, self.runner
        assert engine is not None and runner is not None
        runner.submit(PASS_LANE, functools.partial(_reconcile_quietly, engine))

    def _watch_mapping(self) -> None:
        assert self.watcher is not None
        if self.watcher.poll():
            self._mapping_changed()

    def _reresolve(self) -> None:
        assert self.watcher is not None
        before = self.watcher.compiled
        self.watcher.reresolve()
        if self.watcher.compiled is not before:
            self._mapping_changed()

    def _mapping_changed(self) -> None:
        assert self.engine is not None
        mapping = self._mapping()
        crms = self._pool.current()
        self.engine.agency = crms["agency"]
        self.engine.partners = {c: crm for c, crm in crms.items() if c in mapping.partners}
        self.engine.update_mapping(mapping)
        self._routes = build_routes(
            mapping,
            {label: crm.system for label, crm in crms.items()},
            self.settings.event_max_age,
        )
        self._poll_wanted.set()
        self._submit_pass()

    def _daily(self) -> None:
        """Once a day: this year's membership fees (booked once a year), then the digest
        of every partner whose digest day it is (with its status-request notes)."""
        assert self.store is not None
        from bridge.digest import run_digest
        from bridge.ledger import book

        mapping, now = self._mapping(), self.clock()
        with self.store.transaction() as session:
            for code, partner in mapping.partners.items():
                book.accrue_membership(session, code, partner.commission, now.date(), now)
        crms = self._pool.current()
        partners = {code: crm for code, crm in crms.items() if code in mapping.partners}
        overrides = notice_overrides(mapping.texts)
        report = run_digest(
            self.store, mapping, partners, now, post_notes=True, due_only=True, overrides=overrides
        )
        log_event(log, "digest.done", partners=len(report.partners))

    def _oauth_callback(self, code: str, state: str) -> str:
        """Complete a partner's amoCRM grant started by ``bridge auth amocrm``."""
        from bridge.amocrm.oauth import OAuthApp, SqlTokenStore
        from bridge.amocrm.onboarding import complete_grant, state_partner
        from bridge.crm import CrmError

        assert self.store is not None
        partners = self._mapping().partners

        def secret_of(code: str) -> Secret | None:
            partner = partners.get(code)
            return partner.connection.client_secret if partner is not None else None

        partner_code = state_partner(state, secret_of)
        if partner_code is None:
            raise HookRejected("unknown grant", 400)
        conn = partners[partner_code].connection
        assert conn.client_id is not None and conn.client_secret is not None
        app = OAuthApp(
            partner_code,
            conn.url.reveal(),
            conn.client_id,
            conn.client_secret,
            conn.redirect_uri or "",
        )
        try:
            complete_grant(app, code, SqlTokenStore(self.store.engine, partner_code))
        except CrmError as exc:
            log_event(
                log, "oauth.grant_failed", logging.WARNING, partner=partner_code, error=str(exc)
            )
            raise HookRejected(
                "the grant could not be completed; run bridge auth again", 400
            ) from None
        log_event(log, "oauth.granted", partner=partner_code)
        self._watch_mapping_now()
        return (
            f"partner-bridge: access to {partner_code}'s amoCRM granted. You can close this page."
        )

    def _watch_mapping_now(self) -> None:
        """A new grant may make an unavailable partner usable: resolve again."""
        if self.runner is not None:
            self.runner.submit("resolve-mapping", self._reresolve)

    def _job_failed(self, lane: str, exc: BaseException) -> None:
        self.health.failed(f"lane:{lane}", exc)

    def _mapping(self) -> CompiledMapping:
        assert self.watcher is not None
        compiled = self.watcher.compiled
        if compiled is None:
            raise StartupFailed("no valid mapping is active")
        return compiled

    # --- readiness ---------------------------------------------------------------
    def readiness(self) -> Readiness:
        checks: dict[str, str] = {}
        checks["store"] = self._store_check()
        watcher = self.watcher
        if watcher is None or watcher.compiled is None:
            checks["mapping"] = "no valid mapping"
        elif watcher.rejected:
            checks["mapping"] = (
                f"newest file rejected ({len(watcher.rejected)} problems); last good active"
            )
        else:
            checks["mapping"] = "ok"
        failing = self.health.failing()
        for crm in self._pool.current().values():
            checks[crm.system] = failing.get(crm.system, "ok")
        ready = checks["store"] == "ok" and watcher is not None and watcher.compiled is not None
        return Readiness(ready, checks)

    def _store_check(self) -> str:
        if self.store is None:
            return "not open"
        try:
            with self.store.transaction() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:
            return f"unavailable: {type(exc).__name__}"
        return "ok"

    def crms(self) -> dict[str, Crm]:
        return self._pool.current()
