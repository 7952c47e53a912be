"""A partner's own place on the programme's leaderboard, for its cabinet.

Shown only when the mapping publishes ratings (``defaults.policies.publish_ratings``).
The cabinet gets the partner's place, the number of partners ranked and its own figure
— never another partner's name or figures — ranked by the programme's KPI
(``defaults.policies.ratings_by``, the names of ``bridge kpi --rank-by``; won amount by
default), all time; ties and partners without a figure fall back to the name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session

from bridge.kpi.compute import Window, partner_kpi
from bridge.kpi.query import load_facts
from bridge.kpi.rank import RANKINGS, rank_by
from bridge.ledger import book
from bridge.mapping.compiled import CompiledMapping

# How the cabinet shows a partner's own figure under each KPI (the rest are counts).
MONEY = frozenset({"won_amount", "average_deal", "commission", "payments"})
DAYS = frozenset({"reaction", "days_since_update"})


@dataclass(frozen=True, slots=True)
class Position:
    place: int  # 1 is the best
    of: int  # partners ranked
    won_amount: Decimal  # the partner's own figure, in ``currency``
    currency: str
    by: str = "won_amount"  # the KPI ranked by (a name of bridge.kpi.rank.RANKINGS)
    value: Decimal | None = None  # the partner's own figure under ``by`` (None: none yet)

    @property
    def shown_as(self) -> str:
        """How the template formats :attr:`value`: money, percent, days or count."""
        if self.by in MONEY:
            return "money"
        if self.by == "conversion":
            return "percent"
        return "days" if self.by in DAYS else "count"


def own_position(
    session: Session, mapping: CompiledMapping | None, code: str, now: dt.datetime
) -> Position | None:
    """``code``'s place among the mapping's partners, or None when ratings are not published."""
    if mapping is None or not mapping.policies.publish_ratings or code not in mapping.partners:
        return None
    currency = mapping.agency.currency
    facts = load_facts(session)
    entries = book.read(session)
    kpis = [
        partner_kpi(
            c,
            p.name,
            facts,
            entries,
            Window(),
            now,
            stale_after=p.policies.stale_after,
            currency=currency,
        )
        for c, p in mapping.partners.items()
    ]
    by = mapping.policies.ratings_by
    ranked = [k.partner_code for k in rank_by(kpis, by)]
    mine = next(k for k in kpis if k.partner_code == code)
    found = RANKINGS[by][0](mine)
    value = None if found is None else Decimal(found)
    return Position(ranked.index(code) + 1, len(ranked), mine.won_amount, currency, by, value)
