"""The append-only audit trail: every applied change, who made it, and who lost a conflict."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlmodel import Session, col, select

from bridge.store.bulk import execute_tuples
from bridge.store.tables import AuditRow

# How a synced pair (e.g. the ``@stage`` slot: agency stage, partner stage) is written to
# ``old_value``/``new_value``: as a person reads it, ``C1:NEW ↔ 71``; ``∅`` for an empty half.
PAIR_SEPARATOR = " ↔ "
EMPTY = "∅"


def split_pair(text: str | None) -> tuple[str | None, str | None] | None:
    """A stored pair's (agency, partner) halves, ``None`` for an empty half; None if no pair."""
    if text is None or PAIR_SEPARATOR not in text:
        return None
    agency, _, partner = text.partition(PAIR_SEPARATOR)
    return (None if agency == EMPTY else agency), (None if partner == EMPTY else partner)


class AuditEvent(NamedTuple):
    """One entry of the trail as its writer states it (the store adds the id).

    A named tuple, its fields in the order of the ``audit`` columns: the record step
    writes tens of thousands in a large pass, and a tuple is what the bulk insert hands
    the driver (no per-row conversion to one)."""

    at: dt.datetime
    agency_deal_id: str
    partner_code: str
    action: str
    side: str | None = None
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    changed_by: str | None = None
    winner: str | None = None
    loser_value: str | None = None
    detail: str | None = None


_NAMES = AuditEvent._fields


def add(session: Session, events: Iterable[AuditEvent]) -> int:
    """Append ``events`` to the trail; how many."""
    return append(session, (AuditRow(**e._asdict()) for e in events))


def add_many(session: Session, events: Sequence[AuditEvent]) -> int:
    """:func:`add` as one bulk insert (:mod:`bridge.store.bulk`, no ORM object per row);
    how many."""
    if events:
        table = AuditRow.__table__  # type: ignore[attr-defined]
        execute_tuples(session.connection(), table.insert(), _NAMES, events)
    return len(events)


def append(session: Session, rows: Iterable[AuditRow]) -> int:
    count = 0
    for row in rows:
        if row.id is not None:
            raise ValueError("audit rows are append-only; this one is already stored")
        session.add(row)
        count += 1
    return count


def events(
    session: Session, agency_deal_id: str, partner_code: str | None = None
) -> list[AuditEvent]:
    """:func:`trail` as events, oldest first."""
    return [
        AuditEvent(*(getattr(row, n) for n in _NAMES))
        for row in trail(session, agency_deal_id, partner_code)
    ]


def trail(session: Session, agency_deal_id: str, partner_code: str | None = None) -> list[AuditRow]:
    query = select(AuditRow).where(AuditRow.agency_deal_id == agency_deal_id)
    if partner_code is not None:
        query = query.where(AuditRow.partner_code == partner_code)
    return list(session.exec(query.order_by(col(AuditRow.at), col(AuditRow.id))))


def count(session: Session) -> int:
    from sqlalchemy import func

    return int(session.exec(select(func.count()).select_from(AuditRow)).one())
