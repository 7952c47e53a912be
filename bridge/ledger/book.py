"""Booking entries in the store: append without duplicates, read back in order.

There is no update and no delete here, by design. :func:`append` inserts with
``ON CONFLICT DO NOTHING`` on the (partner, deal, cause) key, so two processes
deriving the same cause at once book it once, and a replay books nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bridge.ledger.entries import PARTNER_LEVEL, Entry, EntryKind
from bridge.ledger.fx import fx_from, fx_values
from bridge.ledger.rules import DealObservation, membership_entries
from bridge.ledger.tables import LedgerEntryRow
from bridge.mapping.compiled import Commission, Side
from bridge.store import audit
from bridge.store.tables import AuditRow

KEY = ["partner_code", "agency_deal_id", "cause"]


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    module = {"sqlite": sqlite, "postgresql": postgresql}.get(dialect)
    if module is None:
        raise NotImplementedError(f"the ledger needs ON CONFLICT support; {dialect} is not wired")
    return module.insert(LedgerEntryRow.__table__)  # type: ignore[attr-defined]


def _values(entry: Entry, now: dt.datetime) -> dict[str, Any]:
    return {
        "partner_code": entry.partner,
        "agency_deal_id": entry.deal_id,
        "cause": entry.cause,
        "kind": entry.kind.value,
        "rule": entry.rule,
        "rate": entry.rate,
        "base": entry.base,
        "amount": entry.amount,
        "currency": entry.currency,
        "payer": entry.payer.value,
        "occurred_at": entry.occurred_at,
        "payable_at": entry.payable_at,
        "created_at": now,
        "ref": entry.ref,
        **fx_values(entry.fx),
    }


def append(session: Session, entries: Iterable[Entry], now: dt.datetime) -> int:
    """Book ``entries``; one whose (partner, deal, cause) is already booked is skipped.

    Returns how many were new.
    """
    added = 0
    table = LedgerEntryRow.__table__  # type: ignore[attr-defined]
    for entry in entries:
        stmt = _insert(session).values(**_values(entry, now))
        stmt = stmt.on_conflict_do_nothing(index_elements=KEY).returning(table.c.id)
        # RETURNING yields a row only when one was inserted; rowcount is not portable here.
        added += len(session.execute(stmt).fetchall())
    return added


def to_entry(row: LedgerEntryRow) -> Entry:
    return Entry(
        partner=row.partner_code,
        deal_id=row.agency_deal_id,
        cause=row.cause,
        kind=EntryKind(row.kind),
        rule=row.rule,
        amount=row.amount,
        currency=row.currency,
        payer=Side(row.payer),
        occurred_at=row.occurred_at,
        payable_at=row.payable_at,
        rate=row.rate,
        base=row.base,
        ref=row.ref,
        fx=fx_from(row.model_dump(), row.currency),
    )


def read(
    session: Session, *, partner: str | None = None, deal_id: str | None = None
) -> list[Entry]:
    """Entries in booking order, optionally for one partner and/or one deal."""
    query = select(LedgerEntryRow)
    if partner is not None:
        query = query.where(col(LedgerEntryRow.partner_code) == partner)
    if deal_id is not None:
        query = query.where(col(LedgerEntryRow.agency_deal_id) == deal_id)
    query = query.order_by(col(LedgerEntryRow.id))
    return [to_entry(row) for row in session.exec(query)]


def read_with_ids(
    session: Session,
    *,
    partner: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[tuple[int, Entry]]:
    """(id, entry) in booking order; ``since``/``until`` bound ``occurred_at`` (half-open)."""
    query = select(LedgerEntryRow)
    if partner is not None:
        query = query.where(col(LedgerEntryRow.partner_code) == partner)
    if since is not None:
        query = query.where(col(LedgerEntryRow.occurred_at) >= since)
    if until is not None:
        query = query.where(col(LedgerEntryRow.occurred_at) < until)
    query = query.order_by(col(LedgerEntryRow.id))
    return [(row.id or 0, to_entry(row)) for row in session.exec(query)]


def by_id(session: Session, entry_id: int) -> Entry | None:
    row = session.get(LedgerEntryRow, entry_id)
    return None if row is None else to_entry(row)


def partners(session: Session) -> list[str]:
    query = select(LedgerEntryRow.partner_code).distinct()
    return sorted(session.exec(query))


def record_history(
    session: Session,
    history: Sequence[DealObservation],
    commission: Commission,
    now: dt.datetime,
) -> list[Entry]:
    """Derive and book what one link's history implies; returns the entries booked now.

    Call it inside the transaction that applied the change, under the link's lock.
    """
    if not history:
        return []
    from bridge.ledger.observations import derive  # it books through this module

    return derive(session, list(history), commission, now)


def accrue_membership(
    session: Session,
    partner_code: str,
    commission: Commission,
    today: dt.date,
    now: dt.datetime,
    *,
    started: dt.date | None,
    not_before: dt.date | None = None,
    dry_run: bool = False,
) -> list[Entry]:
    """Book the membership fee of every contract year begun by ``today`` and not yet booked.

    ``started``: the start of the partner's contract (``joined:`` in the mapping, else its
    first sync); ``None`` (never started) books nothing, and nothing is booked before it.
    Safe to call from a daily job: each contract year's cause is booked once. Contract
    years that ended by ``not_before`` are not booked. With ``dry_run`` the entries are
    returned but not booked.
    """
    if commission.membership_fee is None or started is None or started > today:
        return []
    fee = commission.membership_fee
    due = membership_entries(partner_code, fee, since=started, until=today, not_before=not_before)
    existing = {e.cause for e in read(session, partner=partner_code, deal_id=PARTNER_LEVEL)}
    new = [e for e in due if e.cause not in existing]
    if not dry_run:
        append(session, new, now)
    return new


VOID_RULE = "void"
VOID_PREFIX = "void:"


class VoidRefused(ValueError):
    """The entry cannot be voided (unknown, itself a void, or already voided)."""


def void_cause(entry_id: int) -> str:
    return f"{VOID_PREFIX}{entry_id}"


def voided_ids(session: Session, partner: str | None = None) -> dict[int, LedgerEntryRow]:
    """Entry id → the row that voids it, for every voided entry (of ``partner``)."""
    query = select(LedgerEntryRow).where(col(LedgerEntryRow.cause).startswith(VOID_PREFIX))
    if partner is not None:
        query = query.where(col(LedgerEntryRow.partner_code) == partner)
    return {int(row.cause.removeprefix(VOID_PREFIX)): row for row in session.exec(query)}


def void_entry(session: Session, entry_id: int, reason: str, actor: str, now: dt.datetime) -> Entry:
    """Cancel entry ``entry_id`` by appending its opposite; nothing is edited or deleted.

    The void carries the reason (``ref``), its own rule ``void`` (so the commission
    rules never re-book what a person cancelled) and the cause ``void:<id>``, so
    voiding the same entry twice is refused, not booked twice. Who voided it
    (``actor``, e.g. ``console:Анна`` or ``cli``) goes to the audit trail.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise VoidRefused("a void needs a reason")
    row = session.get(LedgerEntryRow, entry_id)
    if row is None:
        raise VoidRefused(f"ledger entry {entry_id} does not exist")
    if row.rule == VOID_RULE:
        raise VoidRefused(f"entry {entry_id} is itself a void; book a new entry instead")
    original = to_entry(row)
    kind = EntryKind.PAYOUT if original.kind is EntryKind.PAYOUT else EntryKind.REVERSAL
    void = Entry(
        partner=original.partner,
        deal_id=original.deal_id,
        cause=void_cause(entry_id),
        kind=kind,
        rule=VOID_RULE,
        amount=-original.amount,
        currency=original.currency,
        payer=original.payer,
        occurred_at=now,
        payable_at=now,
        ref=reason[:200],
    )
    if not append(session, [void], now):
        raise VoidRefused(f"entry {entry_id} is already voided")
    row_audit = AuditRow(
        at=now,
        agency_deal_id=original.deal_id,
        partner_code=original.partner,
        action="ledger.void",
        changed_by=actor.split(":", 1)[0][:20],
        detail=f"{actor}: entry #{entry_id} ({original.cause}) voided: {reason}"[:2000],
    )
    audit.append(session, [row_audit])
    return void
