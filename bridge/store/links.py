"""The links repository: one agency deal ↔ one partner deal, loaded and saved as model types.

The sync core reads and writes :class:`~bridge.model.LinkState` only: the ``link``
table's row (:class:`~bridge.store.tables.LinkRow`) and its bookkeeping — the
snapshot columns each side's stage and amount are remembered in, the timestamps,
when a link was parked — stay in here. :class:`StoredLink` is a state plus that
bookkeeping, for status pages and ``bridge deal``/``bridge parked``.

The row-level reads near the end (``by_agency_ids``, ``for_partner``, ...) serve the
store's neighbours inside ``bridge`` (reports) and tests.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bridge.canonical import synced_from_json, synced_to_json
from bridge.model import Deal, LinkState, LinkStatus, Money, Semantics
from bridge.store.bulk import execute_tuples, update_many
from bridge.store.tables import LinkRow

_CHUNK = 500  # keeps IN lists under every database's bound-parameter limit


@dataclass(frozen=True, slots=True)
class StoredLink:
    """A link's state with the store's bookkeeping: id, last seen stage and amount, times."""

    id: int
    state: LinkState
    agency_stage: str | None
    agency_amount: Money | None
    partner_stage: str | None
    partner_amount: Money | None
    parked_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


# --- model-level reads and writes (what the sync core uses) --------------------------


def states(session: Session, agency_ids: Iterable[str]) -> list[LinkState]:
    """The links of these agency deals (every partner), as states."""
    return [state_of(row) for row in by_agency_ids(session, agency_ids)]


def states_for(
    session: Session, partner_code: str, statuses: Iterable[LinkStatus] | None = None
) -> list[LinkState]:
    """One partner's links (optionally only those in ``statuses``), oldest first."""
    return [state_of(row) for row in for_partner(session, partner_code, statuses)]


def agency_ids_of(session: Session, partner_code: str, partner_deal_ids: Iterable[str]) -> set[str]:
    """The agency deals linked to these deals of one partner."""
    return {row.agency_deal_id for row in by_partner_ids(session, partner_code, partner_deal_ids)}


def stored(session: Session, agency_ids: Iterable[str]) -> list[StoredLink]:
    """The links of these agency deals with their bookkeeping (for ``bridge deal``)."""
    return [_stored(row) for row in by_agency_ids(session, agency_ids)]


def parked_links(session: Session, partner_code: str | None = None) -> list[StoredLink]:
    """Parked links (of one partner, or all), longest parked first."""
    return [_stored(row) for row in parked(session, partner_code)]


def save_state(
    session: Session,
    state: LinkState,
    seen: tuple[Deal | None, Deal | None],
    now: dt.datetime,
    *,
    new: bool,
) -> None:
    """Store ``state`` and each side's deal as last ``seen`` (agency, partner).

    ``new``: the link was not stored when the pass read it, so a row is inserted
    (and the unique key refuses a second one); otherwise its row is updated. A side
    that is None in ``seen`` keeps the stage and amount remembered before.
    """
    row = None if new else _row(session, state.agency_deal_id, state.partner_code)
    target = _apply_state(row, state)
    _note_seen(target, *seen)
    save(session, target, now)


def save_states(
    session: Session,
    items: Sequence[tuple[LinkState, tuple[Deal | None, Deal | None], bool]],
    now: dt.datetime,
) -> None:
    """:func:`save_state` for many links at once: (state, seen, new) each.

    The stored columns it needs are read with one query per 500 links, and the rows are
    written in bulk (insert, update by id; :mod:`bridge.store.bulk`) instead of a
    select, ORM merge and flush per link. Same outcome as :func:`save_state` for each.
    """
    table = LinkRow.__table__  # type: ignore[attr-defined]
    kept = [table.c[n] for n in _KEPT]
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    wanted = sorted({s.agency_deal_id for s, _, new in items if not new})
    for chunk in _chunks(wanted):
        query = sa_select(*kept).where(table.c.agency_deal_id.in_(chunk))
        for found in session.connection().execute(query).mappings():
            stored[(found["agency_deal_id"], found["partner_code"])] = dict(found)
    inserts: list[tuple[object, ...]] = []
    updates: list[dict[str, object]] = []
    for state, seen, new in items:
        before = None if new else stored.get((state.agency_deal_id, state.partner_code))
        if before is None:
            inserts.append(_new_values(state, seen, now))
            continue
        values = _new_row(state, seen, now)
        del values["created_at"]
        for side, deal in zip(("agency", "partner"), seen, strict=True):
            if deal is None:  # a side not seen keeps what was remembered before
                for name in (f"{side}_stage", f"{side}_amount", f"{side}_currency"):
                    values[name] = before[name]
        if values["parked_at"] is not None and before["parked_at"] is not None:
            values["parked_at"] = before["parked_at"]  # parked since then, not since now
        values["row_id"] = before["id"]
        updates.append(values)
    session.flush()
    connection = session.connection()
    # plain rows in bulk statements (bridge.store.bulk): no ORM object per link
    execute_tuples(connection, table.insert(), _ROW_KEYS, inserts)
    if updates:
        keys = [k for k in updates[0] if k != "row_id"]
        rows = [(*(u[k] for k in keys), u["row_id"]) for u in updates]
        update_many(connection, table, [*keys, "id"], rows, match=["id"])


# the stored columns a bulk save needs: the key, and what a side not seen keeps
_KEPT = (
    "id",
    "agency_deal_id",
    "partner_code",
    "parked_at",
    *(f"{side}_{n}" for side in ("agency", "partner") for n in ("stage", "amount", "currency")),
)


# the columns of a new ``link`` row, in the table's order (the bulk insert's fast path)
_ROW_KEYS = (
    "agency_deal_id",
    "partner_code",
    "partner_deal_id",
    "status",
    "agency_updated_at",
    "partner_updated_at",
    "written_agency_hash",
    "written_partner_hash",
    "synced_json",
    *(f"{side}_{n}" for side in ("agency", "partner") for n in ("stage", "amount", "currency")),
    "outcome",
    "park_reason",
    "parked_at",
    "created_at",
    "updated_at",
)


def _new_values(
    state: LinkState, seen: tuple[Deal | None, Deal | None], now: dt.datetime
) -> tuple[object, ...]:
    """The column values of a new ``link`` row (in the order of :data:`_ROW_KEYS`): what
    :func:`_apply_state`, :func:`_note_seen` and :func:`_stamp_times` give a fresh row.
    A tuple, as the bulk insert hands it to the driver."""
    parked = state.status == LinkStatus.PARKED
    agency, partner = seen
    agency_amount = agency.amount if agency is not None else None
    partner_amount = partner.amount if partner is not None else None
    return (
        state.agency_deal_id,
        state.partner_code,
        state.partner_deal_id,
        state.status.value,
        state.agency_updated_at,
        state.partner_updated_at,
        state.written_agency,
        state.written_partner,
        synced_to_json(state.synced),
        agency.stage_id if agency is not None else None,
        agency_amount.amount if agency_amount else None,
        agency_amount.currency if agency_amount else None,
        partner.stage_id if partner is not None else None,
        partner_amount.amount if partner_amount else None,
        partner_amount.currency if partner_amount else None,
        state.outcome.value if state.outcome is not None else None,
        state.park_reason if parked else None,
        now if parked else None,
        now,
        now,
    )


def _new_row(
    state: LinkState, seen: tuple[Deal | None, Deal | None], now: dt.datetime
) -> dict[str, object]:
    """:func:`_new_values` by column name."""
    return dict(zip(_ROW_KEYS, _new_values(state, seen, now), strict=True))


def linked_partner_ids(session: Session, partner_code: str, deal_ids: Iterable[str]) -> set[str]:
    """Which of these partner deal ids a link of this partner names."""
    return {
        r.partner_deal_id
        for r in by_partner_ids(session, partner_code, deal_ids)
        if r.partner_deal_id
    }


def newest_seen(session: Session) -> dict[str, dt.datetime]:
    """Newest modification time seen per partner code (and ``"agency"``) across all links."""
    newest = func.max(col(LinkRow.partner_updated_at))
    rows = session.exec(select(LinkRow.partner_code, newest).group_by(col(LinkRow.partner_code)))
    result = {code: when for code, when in rows if when is not None}
    agency = session.exec(select(func.max(col(LinkRow.agency_updated_at)))).first()
    if agency is not None:
        result["agency"] = agency
    return result


def counts_by_status(session: Session) -> dict[str, Counter[str]]:
    query = select(LinkRow.partner_code, LinkRow.status, func.count()).group_by(
        col(LinkRow.partner_code), col(LinkRow.status)
    )
    result: dict[str, Counter[str]] = {}
    for partner, status, count in session.exec(query):
        result.setdefault(partner, Counter())[status] = count
    return result


# --- between rows and states ---------------------------------------------------------


def _row(session: Session, agency_deal_id: str, partner_code: str) -> LinkRow | None:
    query = select(LinkRow).where(
        LinkRow.agency_deal_id == agency_deal_id, LinkRow.partner_code == partner_code
    )
    return session.exec(query).first()


def state_of(row: LinkRow) -> LinkState:
    """The state a ``link`` row holds."""
    return LinkState(
        agency_deal_id=row.agency_deal_id,
        partner_code=row.partner_code,
        partner_deal_id=row.partner_deal_id,
        status=LinkStatus(row.status),
        synced=synced_from_json(row.synced_json) if row.synced_json else {},
        written_agency=row.written_agency_hash,
        written_partner=row.written_partner_hash,
        park_reason=row.park_reason,
        agency_updated_at=row.agency_updated_at,
        partner_updated_at=row.partner_updated_at,
        outcome=Semantics(row.outcome) if row.outcome else None,
    )


def _stored(row: LinkRow) -> StoredLink:
    assert row.id is not None, "a stored link has an id"
    return StoredLink(
        id=row.id,
        state=state_of(row),
        agency_stage=row.agency_stage,
        agency_amount=_money(row.agency_amount, row.agency_currency),
        partner_stage=row.partner_stage,
        partner_amount=_money(row.partner_amount, row.partner_currency),
        parked_at=row.parked_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _money(amount: Decimal | None, currency: str | None) -> Money | None:
    return None if amount is None or currency is None else Money(amount, currency)


def _apply_state(row: LinkRow | None, state: LinkState) -> LinkRow:
    """``row`` (or a new one) carrying ``state``; the row's own bookkeeping is kept."""
    target = row or LinkRow(
        agency_deal_id=state.agency_deal_id,
        partner_code=state.partner_code,
        status=state.status.value,
    )
    target.partner_deal_id = state.partner_deal_id
    target.status = state.status.value
    target.synced_json = synced_to_json(state.synced)
    target.written_agency_hash = state.written_agency
    target.written_partner_hash = state.written_partner
    target.park_reason = state.park_reason
    target.agency_updated_at = state.agency_updated_at
    target.partner_updated_at = state.partner_updated_at
    target.outcome = state.outcome.value if state.outcome is not None else None
    return target


def _note_seen(row: LinkRow, agency: Deal | None, partner: Deal | None) -> None:
    """Remember each side's stage and amount as last seen, for status pages and `bridge deal`."""
    if agency is not None:
        row.agency_stage = agency.stage_id
        row.agency_amount = agency.amount.amount if agency.amount else None
        row.agency_currency = agency.amount.currency if agency.amount else None
    if partner is not None:
        row.partner_stage = partner.stage_id
        row.partner_amount = partner.amount.amount if partner.amount else None
        row.partner_currency = partner.amount.currency if partner.amount else None


# --- row-level (the store's neighbours in bridge, and tests) -------------------------


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def by_agency_ids(session: Session, agency_ids: Iterable[str]) -> list[LinkRow]:
    wanted = sorted(set(agency_ids))
    rows: list[LinkRow] = []
    for chunk in _chunks(wanted):
        rows.extend(session.exec(select(LinkRow).where(col(LinkRow.agency_deal_id).in_(chunk))))
    return rows


def by_partner_ids(session: Session, partner_code: str, deal_ids: Iterable[str]) -> list[LinkRow]:
    wanted = sorted(set(deal_ids))
    rows: list[LinkRow] = []
    for chunk in _chunks(wanted):
        query = select(LinkRow).where(
            LinkRow.partner_code == partner_code, col(LinkRow.partner_deal_id).in_(chunk)
        )
        rows.extend(session.exec(query))
    return rows


def for_partner(
    session: Session, partner_code: str, statuses: Iterable[LinkStatus] | None = None
) -> list[LinkRow]:
    query = select(LinkRow).where(LinkRow.partner_code == partner_code)
    if statuses is not None:
        query = query.where(col(LinkRow.status).in_([str(s) for s in statuses]))
    return list(session.exec(query.order_by(col(LinkRow.id))))


def parked(session: Session, partner_code: str | None = None) -> list[LinkRow]:
    query = select(LinkRow).where(LinkRow.status == LinkStatus.PARKED.value)
    if partner_code is not None:
        query = query.where(LinkRow.partner_code == partner_code)
    return list(session.exec(query.order_by(col(LinkRow.parked_at), col(LinkRow.id))))


def get(session: Session, link_id: int) -> LinkRow | None:
    return session.get(LinkRow, link_id)


def save(session: Session, row: LinkRow, now: dt.datetime) -> LinkRow:
    """Insert or update ``row``; timestamps are kept here so callers cannot forget them."""
    _stamp_times(row, now)
    merged = session.merge(row)
    session.flush()
    return merged


def _stamp_times(row: LinkRow, now: dt.datetime) -> None:
    if getattr(row, "created_at", None) is None:  # a new row, not yet stored
        row.created_at = now
    row.updated_at = now
    if row.status == LinkStatus.PARKED and row.parked_at is None:
        row.parked_at = now
    if row.status != LinkStatus.PARKED:
        row.parked_at = None
        row.park_reason = None
