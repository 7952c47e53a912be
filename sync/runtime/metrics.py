"""Prometheus metrics of one bridge process, on a registry of its own.

A registry per :class:`Metrics` (not the library's global one) keeps tests and
several apps in one process from colliding.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Hint → applied latencies span webhooks (sub-second) and polls (minutes).
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.hints_received = Counter(
            "bridge_hints_received",
            "Hints accepted, by system and source",
            ["system", "source"],
            registry=r,
        )
        self.hints_deduplicated = Counter(
            "bridge_hints_deduplicated",
            "Hints merged into one already waiting",
            ["system"],
            registry=r,
        )
        self.hooks_rejected = Counter(
            "bridge_hooks_rejected", "Webhook requests answered 4xx", ["route"], registry=r
        )
        self.sync_latency = Histogram(
            "bridge_sync_latency_seconds",
            "From hint received to change applied",
            ["path"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.writes = Counter("bridge_writes", "Deals written, by CRM account", ["crm"], registry=r)
        self.api_calls = Counter(
            "bridge_api_calls", "HTTP requests made, by CRM account", ["account"], registry=r
        )
        self.rate_limit_wait = Counter(
            "bridge_rate_limit_wait_seconds",
            "Seconds spent waiting for a CRM's rate limit",
            ["account"],
            registry=r,
        )
        self.parked = Gauge(
            "bridge_parked_deals", "Links parked, by partner", ["partner"], registry=r
        )
        self.ledger_balance = Gauge(
            "bridge_ledger_balance",
            "Open commission balance by partner, payer and currency",
            ["partner", "payer", "currency"],
            registry=r,
        )

        # Activity declines beyond mapping.yaml's alerts.decline (sync/runtime/decline_gauges.py):
        # only declining (partner, activity) pairs carry values, with the figures behind them.
        labels = ["partner", "activity"]
        self.activity_recent = Gauge(
            "bridge_activity_recent",
            "A declining activity in the recent window: per 30 days (reaction: median days)",
            labels,
            registry=r,
        )
        self.activity_baseline = Gauge(
            "bridge_activity_baseline",
            "The same activity in the partner's baseline: per 30 days (reaction: median days)",
            labels,
            registry=r,
        )
        self.activity_decline = Gauge(
            "bridge_activity_decline_ratio",
            "Relative change of a declining activity (-0.8: fell by 80 %; reaction: of speed)",
            labels,
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
