"""Partner KPIs, the leaderboard and the monthly chart.

* :mod:`~bridge.kpi.compute` — pure: link facts + ledger entries → :class:`PartnerKpi`;
* :mod:`~bridge.kpi.history` — partner stage moves read from the audit trail;
* :mod:`~bridge.kpi.query` — the store → link facts;
* :mod:`~bridge.kpi.monthly` and :mod:`~bridge.kpi.svg` — the chart (hand-built SVG).
"""

from __future__ import annotations

from bridge.kpi.compute import (
    Leaderboard,
    LinkFacts,
    PartnerKpi,
    Window,
    leaderboard,
    median_days,
    partner_kpi,
)
from bridge.kpi.monthly import Series, last_months, months_between, series
from bridge.kpi.query import facts_from, load_facts, outcome
from bridge.kpi.svg import render_chart

__all__ = [
    "Leaderboard",
    "LinkFacts",
    "PartnerKpi",
    "Series",
    "Window",
    "facts_from",
    "last_months",
    "leaderboard",
    "load_facts",
    "median_days",
    "months_between",
    "outcome",
    "partner_kpi",
    "render_chart",
    "series",
]
