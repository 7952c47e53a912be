"""Partner KPIs, the leaderboard and the monthly chart.

* :mod:`~bridge.kpi.compute` — pure: link facts + ledger entries → :class:`PartnerKpi`;
* :mod:`~bridge.kpi.history` — partner stage moves read from the audit trail;
* :mod:`~bridge.kpi.query` — the store → link facts;
* :mod:`~bridge.kpi.monthly` and :mod:`~bridge.kpi.svg` — the chart (hand-built SVG).
"""
