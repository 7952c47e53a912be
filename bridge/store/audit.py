"""The append-only audit trail: every applied change, who made it, and who lost a conflict."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from bridge.store.tables import AuditRow


def append(session: Session, rows: Iterable[AuditRow]) -> int:
    count = 0
    for row in rows:
        if row.id is not None:
            raise ValueError("audit rows are append-only; this one is already stored")
        session.add(row)
        count += 1
    return count


def trail(session: Session, agency_deal_id: str, partner_code: str | None = None) -> list[AuditRow]:
    query = select(AuditRow).where(AuditRow.agency_deal_id == agency_deal_id)
    if partner_code is not None:
        query = query.where(AuditRow.partner_code == partner_code)
    return list(session.exec(query.order_by(col(AuditRow.at), col(AuditRow.id))))


def count(session: Session) -> int:
    from sqlalchemy import func

    return int(session.exec(select(func.count()).select_from(AuditRow)).one())
