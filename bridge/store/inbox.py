"""The hint inbox: one row per (system, deal), bursts folded into a count and a debounce.

A hint is removed only if nothing new arrived for that deal while it was being
handled (its ``count`` is unchanged), so a change seen mid-pass is never lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bridge.model import Hint, HintKind
from bridge.store.tables import HintRow


@dataclass(frozen=True, slots=True)
class DueHint:
    """A hint taken from the inbox; ``id`` and ``count`` let :func:`done` remove exactly it."""

    id: int
    count: int
    hint: Hint


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    module = {"sqlite": sqlite, "postgresql": postgresql}.get(dialect)
    if module is None:
        raise NotImplementedError(f"the inbox needs upsert support; {dialect} is not wired")
    return module.insert(HintRow.__table__)  # type: ignore[attr-defined]


# session.info: per (system, partner address) the earliest not-before this transaction added
DUE_KEY = "bridge.inbox_due"
Target = tuple[str, str | None]  # (system, partner address or None)
_UNADDRESSED = text("partner IS NULL")
_ADDRESSED = text("partner IS NOT NULL")


def add(
    session: Session,
    hints: Iterable[Hint],
    debounce: dt.timedelta,
    *,
    partner: str | None = None,
) -> int:
    """Record hints; a repeat for the same deal bumps its count and pushes its not-before.

    ``partner``: an agency change routed to that partner's job only (scale-out); None,
    a hint for whoever handles its system. The session remembers per (system, partner)
    the earliest not-before it added (``session.info[DUE_KEY]``): on PostgreSQL the
    scale-out runtime queues the jobs for them in this same transaction."""
    added = 0
    targets: dict[Target, dt.datetime] = session.info.setdefault(DUE_KEY, {})
    for hint in hints:
        due = hint.received_at + debounce
        key = (hint.system, partner)
        known = targets.get(key)
        targets[key] = due if known is None else min(known, due)
        stmt = _insert(session).values(
            system=hint.system,
            deal_id=hint.deal_id,
            partner=partner,
            kind=hint.kind.value,
            source=hint.source,
            first_received=hint.received_at,
            last_received=hint.received_at,
            count=1,
            not_before=hint.received_at + debounce,
        )
        table = stmt.excluded
        keys = ["system", "deal_id"] if partner is None else ["system", "deal_id", "partner"]
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=keys,
                index_where=_UNADDRESSED if partner is None else _ADDRESSED,
                set_={
                    "kind": table.kind,
                    "last_received": table.last_received,
                    "count": HintRow.__table__.c.count + 1,  # type: ignore[attr-defined]
                    "not_before": table.not_before,
                },
            )
        )
        added += 1
    return added


# session.info: the partners whose listing this transaction asks for (the agency job's
# poll routes the agency's changes and asks every partner to list its own with them)
POLLS_KEY = "bridge.inbox_polls"


def want_polls(session: Session, partners: Iterable[str]) -> None:
    """Ask, with this transaction, for these partners' polling jobs (scale-out)."""
    session.info.setdefault(POLLS_KEY, set()).update(partners)


MAX_WAIT = dt.timedelta(seconds=10)


def due(
    session: Session,
    now: dt.datetime,
    *,
    systems: Sequence[str] | None = None,
    limit: int = 1000,
    max_wait: dt.timedelta = MAX_WAIT,
    address: Address = None,
) -> list[HintRow]:
    """Hints whose debounce has passed, oldest first.

    A deal hinted without pause keeps pushing its not-before; after ``max_wait``
    since its first hint it is due anyway, so a stream of events cannot starve it.
    ``address`` picks by address (:func:`_addressed`; None: any).
    """
    waited_enough = col(HintRow.first_received) <= now - max_wait
    query = select(HintRow).where(or_(col(HintRow.not_before) <= now, waited_enough))
    query = query.where(_addressed(systems, address))
    query = query.order_by(col(HintRow.first_received), col(HintRow.id)).limit(limit)
    return list(session.exec(query))


Address = str | bool | None  # a partner's code, False (unaddressed only) or None (any)


def _addressed(systems: Sequence[str] | None, address: Address) -> Any:
    """Which hints a taker gets: ``systems`` (all when None) with any address (None),
    only unaddressed ones (False: the agency job), or — a partner's code — the
    unaddressed ones of ``systems`` and every one addressed to that partner."""
    in_systems = true() if systems is None else col(HintRow.system).in_(list(systems))
    if address is None:
        return in_systems
    unaddressed = and_(in_systems, col(HintRow.partner).is_(None))
    if isinstance(address, bool):
        return unaddressed
    return or_(unaddressed, col(HintRow.partner) == address)


def targets(session: Session, now: dt.datetime, max_wait: dt.timedelta = MAX_WAIT) -> set[Target]:
    """The (system, address) pairs that have a hint due: whose jobs the drain tick queues."""
    waited_enough = col(HintRow.first_received) <= now - max_wait
    query = (
        select(HintRow.system, HintRow.partner)
        .where(or_(col(HintRow.not_before) <= now, waited_enough))
        .distinct()
    )
    return {(system, partner) for system, partner in session.exec(query)}


def take(
    session: Session,
    now: dt.datetime,
    *,
    systems: Sequence[str] | None = None,
    limit: int = 1000,
    address: Address = None,
) -> list[DueHint]:
    """:func:`due`, as hints (they stay in the inbox until :func:`done`)."""
    rows = due(session, now, systems=systems, limit=limit, address=address)
    return [DueHint(row.id, row.count, as_hint(row)) for row in rows if row.id is not None]


def waiting(session: Session, hints: Sequence[Hint]) -> set[tuple[str, str]]:
    """Which of these hints' deals already wait in the inbox (they will fold into it)."""
    if not hints:
        return set()
    query = select(HintRow.system, HintRow.deal_id).where(
        col(HintRow.system).in_({h.system for h in hints}),
        col(HintRow.deal_id).in_({h.deal_id for h in hints}),
        col(HintRow.partner).is_(None),
    )
    return {(system, deal) for system, deal in session.exec(query)}


def pending_count(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    query = select(HintRow.system, func.count()).group_by(col(HintRow.system))
    return {system: count for system, count in session.exec(query)}


def done(session: Session, handled: Iterable[HintRow | DueHint]) -> int:
    """Remove handled hints unless a newer hint for the same deal arrived meanwhile."""
    removed = 0
    for row in handled:
        result = session.execute(
            delete(HintRow).where(col(HintRow.id) == row.id, col(HintRow.count) == row.count)
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


def as_hint(row: HintRow) -> Hint:
    return Hint(
        system=row.system,
        deal_id=row.deal_id,
        kind=HintKind(row.kind),
        received_at=row.last_received,
        source=row.source,
    )
