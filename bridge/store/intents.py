"""Write intents: "we are about to create the partner deal for this agency deal".

The intent is committed *before* the create call. If the process dies or the
answer is lost, the intent is still pending on restart, and the engine searches
the partner CRM by stamp before it creates anything again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from enum import StrEnum

from sqlmodel import Session, col, select

from bridge.store.bulk import update_many
from bridge.store.tables import WriteIntentRow

CREATE = "create"


class IntentState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


def record(
    session: Session, partner_code: str, stamps: Iterable[tuple[str, str]], now: dt.datetime
) -> list[WriteIntentRow]:
    """Record (agency deal id, stamp) create intents; an existing intent counts an attempt."""
    pairs = dict(stamps)
    existing = {
        row.agency_deal_id: row
        for row in session.exec(
            select(WriteIntentRow).where(
                WriteIntentRow.partner_code == partner_code,
                WriteIntentRow.kind == CREATE,
                col(WriteIntentRow.agency_deal_id).in_(list(pairs)),
            )
        )
    }
    rows = []
    for agency_id, stamp in pairs.items():
        row = existing.get(agency_id) or WriteIntentRow(
            partner_code=partner_code,
            agency_deal_id=agency_id,
            kind=CREATE,
            stamp=stamp,
            state=IntentState.PENDING.value,
            created_at=now,
        )
        row.state = IntentState.PENDING.value
        row.attempts += 1
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def begin(
    session: Session, partner_code: str, stamps: Iterable[tuple[str, str]], now: dt.datetime
) -> set[str]:
    """:func:`record` these create intents; the agency deal ids tried before (a retry:
    the partner CRM may already hold the deal, so search it by stamp first)."""
    return {
        row.agency_deal_id for row in record(session, partner_code, stamps, now) if row.attempts > 1
    }


def pending(session: Session, partner_code: str) -> list[WriteIntentRow]:
    query = select(WriteIntentRow).where(
        WriteIntentRow.partner_code == partner_code,
        WriteIntentRow.state == IntentState.PENDING.value,
    )
    return list(session.exec(query.order_by(col(WriteIntentRow.id))))


def resolve(
    session: Session,
    partner_code: str,
    agency_deal_id: str,
    state: IntentState,
    now: dt.datetime,
    partner_deal_id: str | None = None,
) -> None:
    row = session.exec(
        select(WriteIntentRow).where(
            WriteIntentRow.partner_code == partner_code,
            WriteIntentRow.agency_deal_id == agency_deal_id,
            WriteIntentRow.kind == CREATE,
        )
    ).first()
    if row is None:
        return
    row.state = state.value
    row.partner_deal_id = partner_deal_id
    row.resolved_at = now
    session.add(row)


def resolve_many(
    session: Session,
    ends: Sequence[tuple[str, str, IntentState, str | None]],
    now: dt.datetime,
) -> None:
    """:func:`resolve` for many intents, (partner code, agency deal id, state, partner
    deal id) each, in set-based updates (:func:`bridge.store.bulk.update_many`); an
    intent not stored is left alone. Each intent appears once."""
    rows = [(c, a, st.value, d, now) for c, a, st, d in ends]
    update_many(
        session.connection(),
        WriteIntentRow.__table__,  # type: ignore[attr-defined]
        ("partner_code", "agency_deal_id", "state", "partner_deal_id", "resolved_at"),
        rows,
        match=("partner_code", "agency_deal_id"),
        where={"kind": CREATE},
    )
