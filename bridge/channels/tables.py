"""Tables of the channel-conflict check (created by migration ``0003_reports``).

* ``channel_handover`` — one row per client fingerprint handed to a partner with an
  agency deal; the conflict check looks fingerprints up by ``(kind, value)``.
* ``channel_flag`` — an agency deal flagged for a partner: flagged once (one
  timeline comment), held until a manager confirms if the policy says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bridge.store.types import UtcDateTime


def _utc(nullable: bool) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable))


class ChannelHandoverRow(SQLModel, table=True):
    __tablename__ = "channel_handover"
    __table_args__ = (
        UniqueConstraint(
            "kind", "value", "partner_code", "agency_deal_id", name="uq_channel_handover"
        ),
        Index("ix_channel_handover_value", "kind", "value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)
    value: str = Field(max_length=320)
    partner_code: str = Field(max_length=64)
    agency_deal_id: str = Field(max_length=64)
    handed_at: dt.datetime = _utc(nullable=False)


class ChannelFlagRow(SQLModel, table=True):
    __tablename__ = "channel_flag"
    __table_args__ = (UniqueConstraint("agency_deal_id", "partner_code", name="uq_channel_flag"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_deal_id: str = Field(max_length=64)
    partner_code: str = Field(max_length=64)
    flagged_at: dt.datetime = _utc(nullable=False)
    held: bool = Field(default=False)
    confirmed_at: dt.datetime | None = _utc(nullable=True)
    detail: str | None = Field(default=None)
