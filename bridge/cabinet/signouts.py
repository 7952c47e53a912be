"""Sessions signed out before they expired, kept in the store so a restart keeps them out.

A session cookie is valid on its signature and expiry alone; signing out records its
id here until the moment it would have expired, after which the row is useless and
is pruned by the next sign-out.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlmodel import Session

from bridge.cabinet.tables import SignedOutRow


def record(
    session: Session, session_id: str, kind: str, expires_at: dt.datetime, now: dt.datetime
) -> None:
    """Remember that ``session_id`` is signed out; forget sessions that have expired anyway."""
    session.execute(delete(SignedOutRow).where(SignedOutRow.expires_at <= now))  # type: ignore[arg-type]
    if session.get(SignedOutRow, session_id) is None:
        session.add(
            SignedOutRow(
                session_id=session_id[:64], kind=kind[:10], signed_out_at=now, expires_at=expires_at
            )
        )
    session.flush()


def is_signed_out(session: Session, session_id: str) -> bool:
    return session.get(SignedOutRow, session_id[:64]) is not None
