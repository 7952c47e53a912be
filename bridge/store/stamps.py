"""The store's census of stamped partner deals that no link names.

Every partner deal the bridge creates carries the agency deal id as its stamp. A
store's links name the deals *it* created; a deal another store or process created
is listed by this store's next poll of that partner (its creation modified it after
the cursor) and is recorded here. Links plus this table therefore know every stamped
deal modified before the partner's cursor, and a pass that polled the partner sees
the rest in its window — so such a pass can tell "no deal there" without asking the
CRM. A pass that did not poll must ask (``Crm.find_stamped``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bridge.store.tables import StampSeenRow

_CHUNK = 500


def record(
    session: Session, partner_code: str, seen: Iterable[tuple[str, str]], now: dt.datetime
) -> None:
    """Remember ``(stamp, partner deal id)`` pairs; a pair already known is left as it is."""
    unique = {deal_id: stamp for stamp, deal_id in seen}
    if not unique:
        return
    module = {"sqlite": sqlite, "postgresql": postgresql}[session.get_bind().dialect.name]
    table = StampSeenRow.__table__  # type: ignore[attr-defined]
    values = [
        {"partner_code": partner_code, "partner_deal_id": d, "stamp": s, "seen_at": now}
        for d, s in sorted(unique.items())
    ]
    stmt = module.insert(table).values(values)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["partner_code", "partner_deal_id"]))


def lookup(session: Session, partner_code: str, stamps: Sequence[str]) -> dict[str, list[str]]:
    """Partner deal ids recorded for each of ``stamps`` (lowest id first)."""
    wanted = sorted(set(stamps))
    found: dict[str, list[str]] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = select(StampSeenRow).where(
            StampSeenRow.partner_code == partner_code,
            col(StampSeenRow.stamp).in_(wanted[start : start + _CHUNK]),
        )
        for row in session.exec(query):
            found.setdefault(row.stamp, []).append(row.partner_deal_id)
    return {s: sorted(ids, key=lambda i: (len(i), i)) for s, ids in found.items()}
