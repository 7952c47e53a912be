"""What the sync engine calls: record one observed link state, book what follows from it.

:func:`observe` stores the observation (a redelivered one folds into the stored copy
by its content digest), reads the link's whole history back and books the entries
:func:`~bridge.ledger.rules.entries_for` derives. Call it inside the transaction
that applied the change, while holding that link's lock, so two derivations for
one link never interleave (SQLite serialises writers anyway; on PostgreSQL the
lock is what keeps a derivation from missing a concurrent observation).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bridge.ledger import book
from bridge.ledger.entries import Entry
from bridge.ledger.fx import digest_part, fx_from, fx_values, with_fx
from bridge.ledger.overrides import override_entries
from bridge.ledger.rules import DealObservation, Volume, entries_for, needs_volume
from bridge.ledger.tables import LedgerObservationRow
from bridge.ledger.tiers import Prior
from bridge.ledger.volume import prior_wins
from bridge.mapping.compiled import Commission, CommissionRule
from bridge.model import Money, Semantics

MONEY_FIELDS = ("amount", "fee", "paid")


def digest(obs: DealObservation) -> str:
    """A content hash: equal observations (``10`` and ``10.00`` alike) hash equal."""
    parts = [obs.observed_at.isoformat(), obs.stage.value]
    for name in MONEY_FIELDS:
        money: Money | None = getattr(obs, name)
        parts.append("-" if money is None else f"{money.amount.normalize():f} {money.currency}")
    if obs.ended is not None:  # appended only when set: older digests stay valid
        parts.append(f"ended:{obs.ended}")
    parts += digest_part(obs.fx)  # nothing without a conversion: older digests stand
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _row_values(obs: DealObservation) -> dict[str, Any]:
    values: dict[str, Any] = {
        "partner_code": obs.partner_code,
        "agency_deal_id": obs.agency_deal_id,
        "digest": digest(obs),
        "observed_at": obs.observed_at,
        "stage": obs.stage.value,
        "ended": obs.ended,
    }
    for name in MONEY_FIELDS:
        money: Money | None = getattr(obs, name)
        values[name] = None if money is None else money.amount
        values[f"{name}_currency"] = None if money is None else money.currency
    values.update(fx_values(obs.fx))
    return values


def _money(amount: Decimal | None, currency: str | None) -> Money | None:
    return None if amount is None or currency is None else Money(amount, currency)


def _observation(row: LedgerObservationRow) -> DealObservation:
    return DealObservation(
        agency_deal_id=row.agency_deal_id,
        partner_code=row.partner_code,
        observed_at=row.observed_at,
        stage=Semantics(row.stage),
        amount=_money(row.amount, row.amount_currency),
        fee=_money(row.fee, row.fee_currency),
        paid=_money(row.paid, row.paid_currency),
        ended=row.ended,
        fx=fx_from(row.model_dump(), row.amount_currency) if row.amount_currency else None,
    )


def store_observation(session: Session, obs: DealObservation) -> bool:
    """Keep ``obs``; returns False when the same observation was already kept."""
    module = {"sqlite": sqlite, "postgresql": postgresql}[session.get_bind().dialect.name]
    table = LedgerObservationRow.__table__  # type: ignore[attr-defined]
    stmt = module.insert(table).values(**_row_values(obs))
    stmt = stmt.on_conflict_do_nothing(
        index_elements=["partner_code", "agency_deal_id", "digest"]
    ).returning(table.c.id)
    return bool(session.execute(stmt).fetchall())


def history(session: Session, partner_code: str, agency_deal_id: str) -> list[DealObservation]:
    query = (
        select(LedgerObservationRow)
        .where(col(LedgerObservationRow.partner_code) == partner_code)
        .where(col(LedgerObservationRow.agency_deal_id) == agency_deal_id)
        .order_by(col(LedgerObservationRow.observed_at), col(LedgerObservationRow.id))
    )
    return [_observation(row) for row in session.exec(query)]


def volume_in(session: Session, partner_code: str, deal_id: str) -> Volume:
    """The partner's other deals' wins in a tier period, read from the stored observations."""

    def volume(rule: CommissionRule, at: dt.datetime) -> Prior:
        query = (
            select(LedgerObservationRow)
            .where(col(LedgerObservationRow.partner_code) == partner_code)
            .where(col(LedgerObservationRow.agency_deal_id) != deal_id)
            .where(col(LedgerObservationRow.observed_at) < at)
            .order_by(col(LedgerObservationRow.observed_at), col(LedgerObservationRow.id))
        )
        histories: dict[str, list[DealObservation]] = {}
        for row in session.exec(query):
            histories.setdefault(row.agency_deal_id, []).append(_observation(row))
        return prior_wins(histories, rule, at)

    return volume


def derive(
    session: Session, past: list[DealObservation], commission: Commission, now: dt.datetime
) -> list[Entry]:
    """Book what one link's history implies, and its parent's override; returns them."""
    first = past[0]
    existing = book.read(session, partner=first.partner_code, deal_id=first.agency_deal_id)
    volume = None
    if any(needs_volume(rule) for rule in commission.rules):
        volume = volume_in(session, first.partner_code, first.agency_deal_id)
    new = with_fx(entries_for(past, commission, existing, volume), past)
    book.append(session, new, now)
    override = commission.override
    if override is None:
        return new
    child = [*existing, *new]
    parent = book.read(session, partner=override.parent, deal_id=first.agency_deal_id)
    extra = override_entries(first.partner_code, override, child, parent)
    book.append(session, extra, now)
    return [*new, *extra]


def observe(
    session: Session, obs: DealObservation, commission: Commission, now: dt.datetime
) -> list[Entry]:
    """Record ``obs`` and book what the link's history now implies; returns the new entries.

    With a parent (``parent:`` in mapping.yaml) the parent's override entries on the
    deal are booked in the same transaction and returned too.
    """
    store_observation(session, obs)
    past = history(session, obs.partner_code, obs.agency_deal_id)
    return derive(session, past, commission, now)
