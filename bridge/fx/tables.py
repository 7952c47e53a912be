"""The ``exchange_rate`` table: rates as the admin entered them, append-only, with who/when."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Column, Date, Index
from sqlmodel import Field, SQLModel

from bridge.store.types import DecimalText, UtcDateTime


class ExchangeRateRow(SQLModel, table=True):
    """1 ``base`` = ``rate`` ``quote`` from ``effective`` on; a later row for the same pair
    and day supersedes an earlier one (nothing is edited or deleted)."""

    __tablename__ = "exchange_rate"
    __table_args__ = (Index("ix_exchange_rate_pair", "base", "quote", "effective"),)

    id: int | None = Field(default=None, primary_key=True)
    base: str = Field(max_length=3)
    quote: str = Field(max_length=3)
    rate: Decimal = Field(sa_column=Column(DecimalText(), nullable=False))
    effective: dt.date = Field(sa_column=Column(Date(), nullable=False))
    entered_by: str = Field(max_length=120)
    entered_at: dt.datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
