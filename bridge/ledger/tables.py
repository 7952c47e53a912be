"""The ``ledger_entry`` table: append-only, one row per (partner, deal, cause).

Amounts are exact decimal text, times aware UTC (the store's column types). No
code path updates or deletes a row; the schema's unique key is what makes a
second derivation of the same cause a no-op.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Date, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bridge.store.types import DecimalText, UtcDateTime


def _utc() -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=False))


def _dec(nullable: bool) -> Any:
    return Field(default=None, sa_column=Column(DecimalText(), nullable=nullable))


def _day() -> Any:
    return Field(default=None, sa_column=Column(Date(), nullable=True))


class LedgerEntryRow(SQLModel, table=True):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("partner_code", "agency_deal_id", "cause", name="uq_ledger_cause"),
        Index("ix_ledger_partner_occurred", "partner_code", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_code: str = Field(max_length=64)
    agency_deal_id: str = Field(max_length=64)  # "" for partner-level entries
    cause: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    rule: str = Field(max_length=40)
    rate: Decimal | None = _dec(nullable=True)
    base: Decimal | None = _dec(nullable=True)
    amount: Decimal = _dec(nullable=False)
    currency: str = Field(max_length=3)
    payer: str = Field(max_length=10)
    occurred_at: dt.datetime = _utc()
    payable_at: dt.datetime = _utc()
    created_at: dt.datetime = _utc()
    ref: str | None = Field(default=None, max_length=200)
    # The conversion behind an amount (bridge.ledger.fx); all None without one.
    fx_rate: Decimal | None = _dec(nullable=True)
    fx_pair: str | None = Field(default=None, max_length=7)  # "USD/KZT": 1 USD = rate KZT
    fx_date: dt.date | None = _day()
    fx_source: Decimal | None = _dec(nullable=True)
    fx_source_currency: str | None = Field(default=None, max_length=3)
    fx_exact: Decimal | None = _dec(nullable=True)


class LedgerObservationRow(SQLModel, table=True):
    """One observed state of a link, as the sync engine applied it; duplicates fold by digest."""

    __tablename__ = "ledger_observation"
    __table_args__ = (
        UniqueConstraint("partner_code", "agency_deal_id", "digest", name="uq_ledger_observation"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_code: str = Field(max_length=64)
    agency_deal_id: str = Field(max_length=64)
    digest: str = Field(max_length=64)  # sha256 of the observation's canonical content
    observed_at: dt.datetime = _utc()
    stage: str = Field(max_length=10)
    amount: Decimal | None = _dec(nullable=True)
    amount_currency: str | None = Field(default=None, max_length=3)
    fee: Decimal | None = _dec(nullable=True)
    fee_currency: str | None = Field(default=None, max_length=3)
    paid: Decimal | None = _dec(nullable=True)
    paid_currency: str | None = Field(default=None, max_length=3)
    # Set when the link ended in a way that takes its money back (re-routed to another
    # partner): the reason, e.g. "re-routed to iqproject" (bridge.ledger.rules).
    ended: str | None = Field(default=None)
    # The conversion behind an amount (bridge.ledger.fx); all None without one.
    fx_rate: Decimal | None = _dec(nullable=True)
    fx_pair: str | None = Field(default=None, max_length=7)  # "USD/KZT": 1 USD = rate KZT
    fx_date: dt.date | None = _day()
    fx_source: Decimal | None = _dec(nullable=True)
    fx_source_currency: str | None = Field(default=None, max_length=3)
    fx_exact: Decimal | None = _dec(nullable=True)
