"""Rates in the store: add one (with who and when), read them all back as a RateBook."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from bridge.fx.rates import Rate, RateBook
from bridge.fx.tables import ExchangeRateRow
from bridge.store import audit
from bridge.store.tables import AuditRow


def add_rate(session: Session, rate: Rate, actor: str, now: dt.datetime) -> Rate:
    """Append ``rate`` (entered by ``actor`` at ``now``) and audit it; returns it as kept."""
    row = ExchangeRateRow(
        base=rate.base,
        quote=rate.quote,
        rate=rate.rate,
        effective=rate.effective,
        entered_by=actor[:120],
        entered_at=now,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        [
            AuditRow(
                at=now,
                agency_deal_id="",
                partner_code="",
                action="rates.set",
                changed_by=actor.split(":", 1)[0][:20],
                detail=f"{actor}: {_rate(row)}"[:2000],
            )
        ],
    )
    return _rate(row)


def _rate(row: ExchangeRateRow) -> Rate:
    return Rate(
        base=row.base,
        quote=row.quote,
        rate=row.rate,
        effective=row.effective,
        entered_by=row.entered_by,
        entered_at=row.entered_at,
    )


def all_rates(session: Session) -> list[Rate]:
    """Every rate in the order entered."""
    query = select(ExchangeRateRow).order_by(col(ExchangeRateRow.id))
    return [_rate(row) for row in session.exec(query)]


def rate_book(session: Session) -> RateBook:
    return RateBook.of(all_rates(session))
