"""Per partner, the moment of its first sync: kept once, never moved.

The first pass that covers a partner records its start; every later pass reads it,
so what counts as history (:mod:`sync.plan.history`) is fixed at the first
connection and cannot shift when the daemon restarts or the store is reopened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlmodel import Session, col, select

from bridge.store.tables import PartnerStartRow


def read(session: Session) -> dict[str, dt.datetime]:
    rows = session.exec(select(PartnerStartRow).order_by(col(PartnerStartRow.partner_code)))
    return {r.partner_code: r.started_at for r in rows}


def ensure(session: Session, codes: Iterable[str], now: dt.datetime) -> dict[str, dt.datetime]:
    """Each partner's start, recording ``now`` for those that have none yet."""
    known = read(session)
    for code in codes:
        if code not in known:
            session.add(PartnerStartRow(partner_code=code, started_at=now))
            known[code] = now
    return known
