"""Activity declines as Prometheus gauges, recomputed at most every few minutes.

The figures come from the store (:mod:`bridge.kpi.activity`) under the mapping's
``alerts.decline`` (:mod:`bridge.kpi.decline`); a pair that no longer declines drops
out of the gauges. Without a rule, the gauges stay empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bridge.kpi.activity import load_activity, since
from bridge.kpi.decline import Decline, DeclineRule, declines
from bridge.store.db import Store
from sync.runtime.metrics import Metrics

REFRESH = dt.timedelta(minutes=15)


class DeclineGauges:
    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        rule: Callable[[], DeclineRule | None],
        clock: Callable[[], dt.datetime],
        every: dt.timedelta = REFRESH,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._rule = rule
        self._clock = clock
        self._every = every
        self._last: dt.datetime | None = None

    def refresh(self, *, force: bool = False) -> list[Decline]:
        """Recompute when due (or ``force``); the declines now in the gauges."""
        now = self._clock()
        if not force and self._last is not None and now - self._last < self._every:
            return []
        self._last = now
        rule = self._rule()
        found: list[Decline] = []
        if rule is not None:
            with self._store.transaction() as session:
                activity = load_activity(session, since(rule, now))
            found = declines(activity, rule, now)
        gauges = (
            self._metrics.activity_recent,
            self._metrics.activity_baseline,
            self._metrics.activity_decline,
        )
        for gauge in gauges:
            gauge.clear()
        for decline in found:
            labels = (decline.partner_code, decline.activity.value)
            self._metrics.activity_recent.labels(*labels).set(float(decline.recent))
            self._metrics.activity_baseline.labels(*labels).set(float(decline.baseline))
            self._metrics.activity_decline.labels(*labels).set(float(decline.change))
        return found
