"""What one sync pass reports to health and Prometheus: per-account success, latency,
writes, adapter request and rate-limit-wait counters, parked links and balances."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Mapping

from bridge.crm import Crm
from bridge.logs import log_event
from bridge.store.db import Store
from sync.runtime.decline_gauges import DeclineGauges
from sync.runtime.health import HealthTracker
from sync.runtime.metrics import Metrics

log = logging.getLogger(__name__)


class AdapterUsage:
    """Feeds per-account request and rate-limit-wait counters from the adapters' totals."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._seen: dict[tuple[str, str], float] = {}

    def observe(self, crms: Mapping[str, Crm]) -> None:
        for crm in crms.values():
            self._add(crm.system, "requests", getattr(crm, "requests", None))
            pacer = getattr(getattr(crm, "transport", None), "pacer", None)
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


class PassMetrics:
    """Turns a finished pass into health marks, metrics and (when it wrote) a log line."""

    def __init__(
        self,
        store: Store,
        crms: Callable[[], Mapping[str, Crm]],
        metrics: Metrics,
        health: HealthTracker,
        clock: Callable[[], dt.datetime],
        declines: DeclineGauges | None = None,
    ) -> None:
        self._declines = declines
        self._store = store
        self._crms = crms
        self._metrics = metrics
        self._health = health
        self._clock = clock
        self._usage = AdapterUsage(metrics)

    def observe(
        self,
        errors: Mapping[str, str],
        writes: int,
        started: dt.datetime,
        polled: bool,
        covered: Collection[str] | None = None,
    ) -> None:
        """``covered``: the accounts the pass called (a scale-out job's; None: all)."""
        crms = self._crms()
        for label, crm in crms.items():
            if covered is not None and label not in covered:
                continue
            if label in errors:
                self._health.failed(crm.system, RuntimeError(errors[label]))
            else:
                self._health.succeeded(crm.system)
        seconds = (self._clock() - started).total_seconds()
        self._metrics.sync_latency.labels("poll" if polled else "webhook").observe(seconds)
        self._usage.observe(crms)
        self.store_gauges()
        if writes:
            log_event(log, "pass.done", writes=writes, polled=polled, seconds=round(seconds, 3))

    def count_writes(self, written: Mapping[str, int]) -> None:
        """The pass's writes per side (:attr:`sync.engine.PassReport.written`)."""
        crms = self._crms()
        for label, n in written.items():
            crm = crms.get(label)
            if crm is not None and n:
                self._metrics.writes.labels(crm.system).inc(n)

    def store_gauges(self) -> None:
        """Parked links and open balances, as gauges (derived from the store, never kept)."""
        from bridge.ledger import book
        from bridge.ledger.balances import balances
        from bridge.store import links

        with self._store.transaction() as session:
            by_status = links.counts_by_status(session)
            entries = book.read(session)
        for partner, counts in by_status.items():
            self._metrics.parked.labels(partner).set(counts.get("parked", 0))
        for row in balances(entries, self._clock()):
            labels = (row.partner, row.payer.value, row.currency)
            self._metrics.ledger_balance.labels(*labels).set(float(row.balance))
        if self._declines is not None:
            self._declines.refresh()
