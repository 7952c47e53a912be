"""A partner's own place on the programme's leaderboard, for its cabinet.

Shown only when the mapping publishes ratings (``defaults.policies.publish_ratings``).
The cabinet gets the partner's place and the number of partners ranked — never
another partner's name or figures — from the same ranking the console's KPI page
shows (won amount, all time; ties fall back to the name).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session

from bridge.kpi.compute import Window, leaderboard, partner_kpi
from bridge.kpi.query import load_facts
from bridge.ledger import book
from bridge.mapping.compiled import CompiledMapping


@dataclass(frozen=True, slots=True)
class Position:
    place: int  # 1 is the best
    of: int  # partners ranked
    won_amount: Decimal  # the partner's own figure, in ``currency``
    currency: str


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
    ranked = [k.partner_code for k in leaderboard(kpis).by_won_amount]
    mine = next(k for k in kpis if k.partner_code == code)
    return Position(ranked.index(code) + 1, len(ranked), mine.won_amount, currency)
