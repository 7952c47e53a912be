"""Polling cursors, one per CRM account, versioned so two writers cannot both advance one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from bridge.store.tables import CursorRow


class CursorConflict(RuntimeError):
    """Someone else advanced this cursor since it was read. Re-read and poll again."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Every change before ``value`` is applied; ``boundary_ids`` were applied *at* it."""

    system: str
    value: dt.datetime | None
    boundary_ids: tuple[str, ...] = ()
    version: int = 0


_TABLE: Table = CursorRow.__table__  # type: ignore[attr-defined]


# Read as plain columns, not as ORM objects: every pass reads every partner's cursor,
# and nothing needs them as objects in the session.
_COLUMNS = select_columns(_TABLE.c.system, _TABLE.c.value, _TABLE.c.boundary_ids, _TABLE.c.version)


def load(session: Session, system: str) -> Cursor:
    return load_many(session, [system])[system]


def load_many(session: Session, systems: Sequence[str]) -> dict[str, Cursor]:
    """The cursors of ``systems`` (one that never moved: value None), in one query."""
    wanted = sorted(set(systems))
    found = {
        row.system: Cursor(row.system, row.value, tuple(row.boundary_ids), row.version)
        for row in session.execute(_COLUMNS.where(_TABLE.c.system.in_(wanted)))
    }
    return {s: found.get(s) or Cursor(system=s, value=None) for s in wanted}


def load_all(session: Session) -> list[Cursor]:
    rows = session.exec(select(CursorRow).order_by(col(CursorRow.system)))
    return [Cursor(r.system, r.value, tuple(r.boundary_ids), r.version) for r in rows]


def save(
    session: Session,
    cursor: Cursor,
    value: dt.datetime,
    boundary_ids: Sequence[str],
    now: dt.datetime,
) -> Cursor:
    """Advance ``cursor`` (as read) to ``value``; refuses to go backwards or to race."""
    if cursor.value is not None and value < cursor.value:
        raise ValueError(f"cursor {cursor.system} would move back: {cursor.value} → {value}")
    ids = sorted(set(boundary_ids))
    if cursor.version == 0:
        session.add(CursorRow(system=cursor.system, value=value, boundary_ids=ids, updated_at=now))
        session.flush()
        return Cursor(cursor.system, value, tuple(ids), 1)
    # A plain UPDATE of the table: no ORM object of a cursor is kept in a session to sync.
    result = session.execute(
        update(_TABLE)
        .where(_TABLE.c.system == cursor.system, _TABLE.c.version == cursor.version)
        .values(value=value, boundary_ids=ids, version=cursor.version + 1, updated_at=now)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise CursorConflict(f"cursor {cursor.system} changed since version {cursor.version}")
    return Cursor(cursor.system, value, tuple(ids), cursor.version + 1)
