"""``digest_note``: the status-request notes the weekly digest sent (migration ``0003_reports``).

One row per (partner, agency deal, ISO week): the unique key is what makes "at most
once per deal per week" hold even if two digests run at the same time. A row is
claimed *before* the note is sent and removed again only if the CRM refused it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from bridge.store.types import UtcDateTime

CLAIMED, SENT = "claimed", "sent"


def _utc(nullable: bool) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable))


class DigestNoteRow(SQLModel, table=True):
    __tablename__ = "digest_note"
    __table_args__ = (
        UniqueConstraint("partner_code", "agency_deal_id", "week", name="uq_digest_note_week"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_code: str = Field(max_length=64)
    agency_deal_id: str = Field(max_length=64)
    partner_deal_id: str = Field(max_length=64)
    week: str = Field(max_length=10)  # ISO week, e.g. 2026-W48
    state: str = Field(max_length=10)
    claimed_at: dt.datetime = _utc(nullable=False)
    sent_at: dt.datetime | None = _utc(nullable=True)
