"""Tables of the web side: ``cabinet_key``, ``payout_request`` and ``web_signout``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from bridge.store.types import DecimalText, UtcDateTime


def _utc(nullable: bool) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable))


class CabinetKeyRow(SQLModel, table=True):
    """The current key version of a partner's cabinet links; revoking bumps it."""

    __tablename__ = "cabinet_key"

    partner_code: str = Field(primary_key=True, max_length=64)
    version: int = Field(default=1)
    changed_at: dt.datetime = _utc(nullable=False)
    changed_by: str = Field(max_length=120)


class PayoutRequestRow(SQLModel, table=True):
    """A partner asking to be paid what is payable, with its invoice attached."""

    __tablename__ = "payout_request"
    __table_args__ = (Index("ix_payout_request_partner", "partner_code", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_code: str = Field(max_length=64)
    amount: Decimal = Field(sa_column=Column(DecimalText(), nullable=False))
    currency: str = Field(max_length=3)
    note: str | None = Field(default=None, max_length=500)
    status: str = Field(max_length=10)  # open | paid
    invoice_name: str = Field(max_length=200)
    invoice_sha256: str = Field(max_length=64)
    invoice: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    requested_at: dt.datetime = _utc(nullable=False)
    closed_at: dt.datetime | None = _utc(nullable=True)
    payout_ref: str | None = Field(default=None, max_length=200)


class SignedOutRow(SQLModel, table=True):
    """A console or cabinet session signed out before it expired (kept until it would have)."""

    __tablename__ = "web_signout"
    __table_args__ = (Index("ix_web_signout_expires", "expires_at"),)

    session_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=10)  # console | cabinet
    signed_out_at: dt.datetime = _utc(nullable=False)
    expires_at: dt.datetime = _utc(nullable=False)
