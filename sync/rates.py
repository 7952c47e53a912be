"""The admin's exchange rates in a pass: read them for the planner and the ledger, and
when one is set, queue the links parked for the lack of it (they go out with no edit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bridge.fx.rates import Rate, RateBook
from bridge.fx.store import add_rate, rate_book
from bridge.store import links
from bridge.store.db import Store

AGENCY_SYSTEM = "bitrix24:agency"  # how bridge.mapping.connect labels the agency portal


def fx_rates(store: Store, kept: Sequence[Rate] = ()) -> RateBook:
    """Every exchange rate for one pass (planner and ledger alike): ``kept`` (mapping.yaml's
    ``rates:``) first, then those entered with ``bridge rates set`` (later entries win ties)."""
    with store.transaction() as session:
        return RateBook.of((*kept, *rate_book(session).rates))


def waiting_for(store: Store, base: str, quote: str) -> list[int]:
    """Ids of links parked for the lack of a ``base``/``quote`` rate (either direction)."""
    marks = (f"no {base}→{quote} rate", f"no {quote}→{base} rate")
    with store.transaction() as session:
        parked = links.parked_links(session)
    return [p.id for p in parked if any(m in (p.state.park_reason or "") for m in marks)]


def set_rate(store: Store, rate: Rate, actor: str, now: dt.datetime) -> tuple[Rate, list[int]]:
    """Keep ``rate`` (who/when) and queue the links waiting for it; returns both."""
    from sync.engine import retry_parked  # the engine reads rates through fx_rates above

    with store.transaction() as session:
        kept = add_rate(session, rate, actor, now)
    waiting = waiting_for(store, rate.base, rate.quote)
    queued = retry_parked(store, AGENCY_SYSTEM, now, waiting) if waiting else []
    return kept, queued
