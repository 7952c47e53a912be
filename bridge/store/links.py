"""Reading and writing links (one agency deal ↔ one partner deal)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from bridge.store.tables import LinkRow, LinkStatus

_CHUNK = 500  # keeps IN lists under every database's bound-parameter limit


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def by_agency_ids(session: Session, agency_ids: Iterable[str]) -> list[LinkRow]:
    wanted = sorted(set(agency_ids))
    rows: list[LinkRow] = []
    for chunk in _chunks(wanted):
        rows.extend(session.exec(select(LinkRow).where(col(LinkRow.agency_deal_id).in_(chunk))))
    return rows


def by_partner_ids(session: Session, partner_code: str, deal_ids: Iterable[str]) -> list[LinkRow]:
    wanted = sorted(set(deal_ids))
    rows: list[LinkRow] = []
    for chunk in _chunks(wanted):
        query = select(LinkRow).where(
            LinkRow.partner_code == partner_code, col(LinkRow.partner_deal_id).in_(chunk)
        )
        rows.extend(session.exec(query))
    return rows


def for_partner(
    session: Session, partner_code: str, statuses: Iterable[LinkStatus] | None = None
) -> list[LinkRow]:
    query = select(LinkRow).where(LinkRow.partner_code == partner_code)
    if statuses is not None:
        query = query.where(col(LinkRow.status).in_([str(s) for s in statuses]))
    return list(session.exec(query.order_by(col(LinkRow.id))))


def parked(session: Session, partner_code: str | None = None) -> list[LinkRow]:
    query = select(LinkRow).where(LinkRow.status == LinkStatus.PARKED.value)
    if partner_code is not None:
        query = query.where(LinkRow.partner_code == partner_code)
    return list(session.exec(query.order_by(col(LinkRow.parked_at), col(LinkRow.id))))


def get(session: Session, link_id: int) -> LinkRow | None:
    return session.get(LinkRow, link_id)


def counts_by_status(session: Session) -> dict[str, Counter[str]]:
    query = select(LinkRow.partner_code, LinkRow.status, func.count()).group_by(
        col(LinkRow.partner_code), col(LinkRow.status)
    )
    result: dict[str, Counter[str]] = {}
    for partner, status, count in session.exec(query):
        result.setdefault(partner, Counter())[status] = count
    return result


def save(session: Session, row: LinkRow, now: dt.datetime) -> LinkRow:
    """Insert or update ``row``; timestamps are kept here so callers cannot forget them."""
    if getattr(row, "created_at", None) is None:  # a new row, not yet stored
        row.created_at = now
    row.updated_at = now
    if row.status == LinkStatus.PARKED and row.parked_at is None:
        row.parked_at = now
    if row.status != LinkStatus.PARKED:
        row.parked_at = None
        row.park_reason = None
    merged = session.merge(row)
    session.flush()
    return merged
