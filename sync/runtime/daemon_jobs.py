"""The daemon's scheduled jobs: the sync pass and what asks for it, the mapping
reload, the nightly reconcile and the daily membership fees and digest.

Every sync pass runs on one runner lane (:data:`PASS_LANE`). A poll tick and an
inbox tick both ask for "a pass"; the pass itself decides whether to poll (a poll
was requested since the last one) or only to drain due hints. So coalescing two
requests into one never loses a poll.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Mapping

from bridge.crm import Crm
from bridge.logs import log_event
from bridge.mapping.compiled import CompiledMapping
from bridge.mapping.texts import notice_overrides
from bridge.mapping.watch import MappingWatcher
from bridge.store import inbox
from bridge.store.db import Store
from sync.engine import Engine
from sync.runtime.app import HookRoutes
from sync.runtime.pass_metrics import PassMetrics
from sync.runtime.runner import Runner
from sync.runtime.schedule import Plan, PollTarget
from sync.sources import reconcile as reconciler
from sync.sources.webhooks import build_routes

log = logging.getLogger(__name__)
PASS_LANE = "sync-pass"  # noqa: S105 - a runner lane name, not a credential
# A partner that did not resolve (down, wrong credentials) is probed by resolving the
# mapping again: after 30 s, then doubling up to the scheduled re-resolve's 10 min.
PROBE_FIRST = dt.timedelta(seconds=30)
PROBE_MAX = dt.timedelta(minutes=10)


def reconcile_quietly(engine: Engine, *, then_pass: bool = True) -> None:
    """The nightly reconcile, then (``then_pass``) a sync pass over the hints it queued;
    the scale-out runner's partner jobs take them instead."""
    partners = {code: engine.partners[code] for code in engine.reachable()}
    report = reconciler.reconcile(
        engine.store,
        engine.mapping,
        engine.agency,
        partners,
        engine.clock(),
        then=engine.sync if then_pass else None,
    )
    log_event(
        log,
        "reconcile.done",
        missing={code: len(ids) for code, ids in report.missing.items()},
        unlinked=len(report.unlinked),
        agency_missing=len(report.agency_missing),
        errors=report.errors or None,
    )


class DaemonJobs:
    """The jobs of one running daemon, over the parts its lifecycle opened."""

    def __init__(
        self,
        *,
        store: Store,
        engine: Engine,
        runner: Runner,
        watcher: MappingWatcher,
        mapping: Callable[[], CompiledMapping],
        crms: Callable[[], Mapping[str, Crm]],
        observer: PassMetrics,
        stopping: threading.Event,
        clock: Callable[[], dt.datetime],
        event_max_age: dt.timedelta | None,
        may_drain: Callable[[], bool] = lambda: True,
    ) -> None:
        """``may_drain``: whether a pass for due hints may start now (a storm paces them)."""
        self._may_drain = may_drain
        self._store = store
        self._engine = engine
        self._runner = runner
        self._watcher = watcher
        self._mapping = mapping
        self._crms = crms
        self._observer = observer
        self._stopping = stopping
        self._clock = clock
        self._event_max_age = event_max_age
        self._poll_wanted = threading.Event()
        self._probe_after = PROBE_FIRST
        self._next_probe: dt.datetime | None = None
        self.routes = self._build_routes(mapping())

    def plan(self, poll_interval: dt.timedelta | None, drain_every: dt.timedelta) -> Plan:
        """The schedule: poll, inbox drain, mapping re-resolve, reconcile and the daily job."""
        mapping = self._mapping()
        interval = poll_interval or mapping.policies.poll_interval
        return Plan(
            polls=(PollTarget("poll", interval, self.want_poll),),
            drain_inbox=self.drain,
            reconcile=self.reconcile,
            resolve_mapping=self.reresolve,
            digest=self.daily,
            drain_every=drain_every,
            reconcile_at=mapping.policies.reconcile_at,
        )

    def first_pass(self) -> None:
        """The first pass polls: catch up on what happened while the daemon was down."""
        self._poll_wanted.set()
        self._runner.submit(PASS_LANE, self.run_pass)

    def want_poll(self) -> None:
        self._poll_wanted.set()
        self.submit_pass()

    def drain(self) -> None:
        """Cheap check on the scheduler's lane: ask for a pass only when hints are due."""
        self.watch_mapping()
        self._probe_unresolved()
        if self._hints_due() and self._may_drain():
            self.submit_pass()

    def _probe_unresolved(self) -> None:
        """Resolve again, on a back-off, while some partner of the mapping did not resolve:
        it comes back (and its waiting deals go out) without waiting for the 10-min job."""
        compiled = self._watcher.compiled
        if compiled is None or all(p.unavailable is None for p in compiled.partners.values()):
            self._next_probe, self._probe_after = None, PROBE_FIRST
            return
        now = self._clock()
        if self._next_probe is None:
            self._next_probe = now + self._probe_after
        elif now >= self._next_probe:
            self._probe_after = min(self._probe_after * 2, PROBE_MAX)
            self._next_probe = now + self._probe_after
            self.reresolve_soon()

    @property
    def next_probe(self) -> dt.datetime | None:
        """When a partner that did not resolve is probed next (None: none is waiting)."""
        return self._next_probe

    def submit_pass(self) -> None:
        if not self._stopping.is_set():
            self._runner.submit(PASS_LANE, self.run_pass)

    def _hints_due(self) -> bool:
        with self._store.transaction() as session:
            return bool(inbox.due(session, self._clock(), limit=1))

    def drain_due(self) -> None:
        """Run a pass in place when hints are due (the shared queue's drain job)."""
        if self._hints_due():
            self.run_pass()

    def agency_pass(self, *, poll: bool) -> None:
        """The scale-out agency job: route the agency's changes to their partners' jobs."""
        started = self._clock()
        report = self._engine.fan_out(poll=poll)
        self._observer.observe(report.errors, 0, started, poll, covered=["agency"])

    def partner_pass(self, code: str, *, poll: bool) -> None:
        """The scale-out partner job: one partner's share of a pass (routed agency hints,
        its own window and hints). A partner no longer in the mapping has nothing to do."""
        if code not in self._engine.mapping.partners:
            log_event(log, "job.unknown_partner", logging.WARNING, partner=code)
            return
        started = self._clock()
        report = self._engine.sync(partner=code, poll=poll, routed=True)
        self._observer.count_writes(report.written)
        self._observer.observe(report.errors, report.writes, started, poll, covered=[code])

    def run_pass(self, *, poll: bool = False) -> None:
        if poll:
            self._poll_wanted.set()
        polling = self._poll_wanted.is_set()
        self._poll_wanted.clear()
        started = self._clock()
        report = self._engine.sync(poll=polling)
        self._observer.count_writes(report.written)
        self._observer.observe(report.errors, report.writes, started, polling)

    def reconcile(self) -> None:
        """Nightly, on the pass lane: a reconcile never overlaps a sync pass."""
        self._runner.submit(PASS_LANE, functools.partial(reconcile_quietly, self._engine))

    def watch_mapping(self) -> None:
        if self._watcher.poll():
            self._mapping_changed()

    def reresolve(self) -> None:
        before = self._watcher.compiled
        self._watcher.reresolve()
        if self._watcher.compiled is not before:
            self._mapping_changed()

    def reresolve_soon(self) -> None:
        """A new grant may make an unavailable partner usable: resolve again."""
        self._runner.submit("resolve-mapping", self.reresolve)

    def _mapping_changed(self) -> None:
        mapping = self._mapping()
        crms = self._crms()
        self._engine.agency = crms["agency"]
        self._engine.partners = {c: crm for c, crm in crms.items() if c in mapping.partners}
        self._engine.update_mapping(mapping)
        self.routes = self._build_routes(mapping)
        self._poll_wanted.set()
        self.submit_pass()

    def _build_routes(self, mapping: CompiledMapping) -> HookRoutes:
        systems = {label: crm.system for label, crm in self._crms().items()}
        return build_routes(mapping, systems, self._event_max_age)

    def daily(self) -> None:
        """Once a day: the membership fees of contract years begun by today (from each
        partner's ``joined:`` date, else its first sync — a partner with neither owes none
        yet), then the digest of every partner whose digest day it is (with its
        status-request notes)."""
        from sync.jobs.digest import run_digest
        from sync.jobs.fees import book_fees

        mapping, now = self._mapping(), self._clock()
        book_fees(self._store, mapping, now)
        crms = self._crms()
        partners = {code: crm for code, crm in crms.items() if code in mapping.partners}
        overrides = notice_overrides(mapping.texts)
        report = run_digest(
            self._store,
            mapping,
            partners,
            now,
            post_notes=True,
            due_only=True,
            overrides=overrides,
            decline=mapping.decline,
        )
        log_event(log, "digest.done", partners=len(report.partners))
