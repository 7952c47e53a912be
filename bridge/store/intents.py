"""Write intents: "we are about to create the partner deal for this agency deal".

The intent is committed *before* the create call. If the process dies or the
answer is lost, the intent is still pending on restart, and the engine searches
the partner CRM by stamp before it creates anything again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from enum import StrEnum

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bridge.store.bulk import execute_tuples, update_many
from bridge.store.tables import WriteIntentRow

CREATE = "create"
_CHUNK = 500  # agency deal ids per IN list


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
    the partner CRM may already hold the deal, so search it by stamp first).

    In set-based statements (:mod:`bridge.store.bulk`): the stored intents read once per
    500, the new ones in one insert, the others' attempts counted in one update — a
    first mirror begins thousands of creates at once, an ORM object each was most of
    the time it took."""
    pairs = dict(stamps)
    table = WriteIntentRow.__table__  # type: ignore[attr-defined]
    session.flush()  # rows the caller added through the ORM first
    connection = session.connection()
    stored: dict[str, tuple[int, int]] = {}  # agency deal id → (row id, attempts)
    wanted = list(pairs)
    for start in range(0, len(wanted), _CHUNK):
        query = sa_select(table.c.agency_deal_id, table.c.id, table.c.attempts).where(
            table.c.partner_code == partner_code,
            table.c.kind == CREATE,
            table.c.agency_deal_id.in_(wanted[start : start + _CHUNK]),
        )
        for agency_id, row_id, attempts in connection.execute(query):
            stored[agency_id] = (row_id, attempts or 0)
    fresh = [
        (partner_code, agency_id, CREATE, stamp, IntentState.PENDING.value, 1, now)
        for agency_id, stamp in pairs.items()
        if agency_id not in stored
    ]
    execute_tuples(
        connection,
        table.insert(),
        ("partner_code", "agency_deal_id", "kind", "stamp", "state", "attempts", "created_at"),
        fresh,
    )
    again = [(IntentState.PENDING.value, n + 1, row_id) for row_id, n in stored.values()]
    update_many(connection, table, ("state", "attempts", "id"), again, match=("id",))
    return {agency_id for agency_id, (_, attempts) in stored.items() if attempts > 0}


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
