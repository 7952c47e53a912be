"""Polling cursors, one per CRM account, versioned so two writers cannot both advance one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
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


def load(session: Session, system: str) -> Cursor:
    row = session.get(CursorRow, system)
    if row is None:
        return Cursor(system=system, value=None)
    return Cursor(system, row.value, tuple(row.boundary_ids), row.version)


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
    result = session.execute(
        update(CursorRow)
        .where(col(CursorRow.system) == cursor.system, col(CursorRow.version) == cursor.version)
        .values(value=value, boundary_ids=ids, version=cursor.version + 1, updated_at=now)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise CursorConflict(f"cursor {cursor.system} changed since version {cursor.version}")
    return Cursor(cursor.system, value, tuple(ids), cursor.version + 1)
