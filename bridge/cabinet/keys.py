"""Per-partner key versions of cabinet links: read the current one, revoke by bumping it."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from bridge.cabinet.tables import CabinetKeyRow

FIRST_VERSION = 1


def current(session: Session, partner_code: str) -> int:
    """The version a valid link of this partner must carry (1 until the first revoke)."""
    row = session.get(CabinetKeyRow, partner_code)
    return row.version if row is not None else FIRST_VERSION


def revoke(session: Session, partner_code: str, actor: str, now: dt.datetime) -> int:
    """Invalidate every link issued so far for ``partner_code``; returns the new version."""
    row = session.get(CabinetKeyRow, partner_code)
    if row is None:
        row = CabinetKeyRow(
            partner_code=partner_code, version=FIRST_VERSION, changed_at=now, changed_by=actor
        )
    row.version += 1
    row.changed_at = now
    row.changed_by = actor[:120]
    session.add(row)
    session.flush()
    return row.version
