"""The store's tables. Schema changes go through Alembic (``bridge/migrations``), never create_all.

* ``link`` — one agency deal ↔ one partner deal with its sync state
  (:class:`~bridge.model.LinkState`, read and written by :mod:`bridge.store.links`);
  parking is a status plus a reason, so a parked deal keeps everything needed to retry it.
* ``write_intent`` — recorded *before* a partner deal is created, resolved after;
  an unresolved intent means "search by stamp before creating again".
* ``sync_cursor`` — per CRM account: how far polling has applied every change.
* ``hint`` — the inbox, one row per (system, deal): bursts fold into a count.
* ``audit`` — append-only record of every applied change.
* ``partner_health`` — last success and last error per partner, for ``bridge status``.
* ``stamp_seen`` — stamped partner deals a poll listed that no link of this store names
  (created by another store or process): with the links, the store's census of stamps.
* ``partner_start`` — when the bridge first synced each partner (the first connection).
* ``resolution_cache`` — per CRM account, the names resolution read last (shared by processes).
* ``partner_lead`` — deals a partner registered for the agency (partner-registered leads):
  passed (with the agency deal made for it: the link is "sourced by partner") or held.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bridge.store.types import DecimalText, JsonText, UtcDateTime


def _utc(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable))


def _dec() -> Any:
    return Field(default=None, sa_column=Column(DecimalText(), nullable=True))


class LinkRow(SQLModel, table=True):
    __tablename__ = "link"
    __table_args__ = (
        UniqueConstraint("agency_deal_id", "partner_code", name="uq_link_agency_partner"),
        Index("ix_link_partner_deal", "partner_code", "partner_deal_id"),
        Index("ix_link_status", "partner_code", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agency_deal_id: str = Field(max_length=64)
    partner_code: str = Field(max_length=64)
    partner_deal_id: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=20)
    agency_updated_at: dt.datetime | None = _utc()
    partner_updated_at: dt.datetime | None = _utc()
    written_agency_hash: str | None = Field(default=None, max_length=64)
    written_partner_hash: str | None = Field(default=None, max_length=64)
    synced_json: str | None = Field(default=None)
    agency_stage: str | None = Field(default=None, max_length=64)
    agency_amount: Decimal | None = _dec()
    agency_currency: str | None = Field(default=None, max_length=3)
    partner_stage: str | None = Field(default=None, max_length=64)
    partner_amount: Decimal | None = _dec()
    partner_currency: str | None = Field(default=None, max_length=3)
    outcome: str | None = Field(default=None, max_length=10)  # the link's own: open/won/lost
    park_reason: str | None = Field(default=None)
    parked_at: dt.datetime | None = _utc()
    created_at: dt.datetime = _utc(nullable=False)
    updated_at: dt.datetime = _utc(nullable=False)


class WriteIntentRow(SQLModel, table=True):
    __tablename__ = "write_intent"
    __table_args__ = (UniqueConstraint("partner_code", "agency_deal_id", "kind", name="uq_intent"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_code: str = Field(max_length=64)
    agency_deal_id: str = Field(max_length=64)
    kind: str = Field(max_length=20)
    stamp: str = Field(max_length=64)
    state: str = Field(max_length=20)
    partner_deal_id: str | None = Field(default=None, max_length=64)
    attempts: int = Field(default=0)
    created_at: dt.datetime = _utc(nullable=False)
    resolved_at: dt.datetime | None = _utc()


class CursorRow(SQLModel, table=True):
    __tablename__ = "sync_cursor"

    system: str = Field(primary_key=True, max_length=128)
    value: dt.datetime | None = _utc()
    boundary_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JsonText(), nullable=False)
    )
    version: int = Field(default=1)
    updated_at: dt.datetime | None = _utc()


def _unique_where(name: str, columns: tuple[str, ...], where: str) -> Index:
    """A partial unique index (the same on SQLite and PostgreSQL)."""
    condition = text(where)
    return Index(name, *columns, unique=True, sqlite_where=condition, postgresql_where=condition)


class HintRow(SQLModel, table=True):
    __tablename__ = "hint"
    __table_args__ = (
        # One row per (system, deal) and address; NULL (unaddressed) is a value of its own.
        _unique_where("uq_hint_unaddressed", ("system", "deal_id"), "partner IS NULL"),
        _unique_where("uq_hint_addressed", ("system", "deal_id", "partner"), "partner IS NOT NULL"),
        Index("ix_hint_not_before", "not_before"),
    )

    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(max_length=128)
    deal_id: str = Field(max_length=64)
    kind: str = Field(max_length=20)
    source: str = Field(max_length=20)
    first_received: dt.datetime = _utc(nullable=False)
    last_received: dt.datetime = _utc(nullable=False)
    count: int = Field(default=1)
    not_before: dt.datetime = _utc(nullable=False)
    # Set: an agency change routed to this partner's job only (scale-out); None: anyone's.
    partner: str | None = Field(default=None, max_length=64)


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_link", "agency_deal_id", "partner_code"),)

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = _utc(nullable=False)
    agency_deal_id: str = Field(max_length=64)
    partner_code: str = Field(max_length=64)
    action: str = Field(max_length=32)
    side: str | None = Field(default=None, max_length=20)
    field: str | None = Field(default=None, max_length=128)
    old_value: str | None = Field(default=None)
    new_value: str | None = Field(default=None)
    changed_by: str | None = Field(default=None, max_length=20)
    winner: str | None = Field(default=None, max_length=20)
    loser_value: str | None = Field(default=None)
    detail: str | None = Field(default=None)


class PartnerHealthRow(SQLModel, table=True):
    __tablename__ = "partner_health"

    partner_code: str = Field(primary_key=True, max_length=64)
    last_success_at: dt.datetime | None = _utc()
    last_error_at: dt.datetime | None = _utc()
    last_error: str | None = Field(default=None)
    error_kind: str | None = Field(default=None, max_length=32)
    consecutive_failures: int = Field(default=0)


class StampSeenRow(SQLModel, table=True):
    """A partner deal carrying the bridge's stamp that a poll listed and no link named."""

    __tablename__ = "stamp_seen"

    partner_code: str = Field(primary_key=True, max_length=64)
    partner_deal_id: str = Field(primary_key=True, max_length=64)
    stamp: str = Field(max_length=128, index=True)
    seen_at: dt.datetime = _utc(nullable=False)


class PartnerStartRow(SQLModel, table=True):
    """When the bridge first synced a partner: agency deals already closed and created
    before it are recorded, not handed over (DESIGN §5, the first connection)."""

    __tablename__ = "partner_start"

    partner_code: str = Field(primary_key=True, max_length=64)
    started_at: dt.datetime = _utc(nullable=False)


class HookDeliveryRow(SQLModel, table=True):
    """When each CRM account last delivered a webhook (for ``bridge hooks status``)."""

    __tablename__ = "hook_delivery"

    system: str = Field(primary_key=True, max_length=128)
    last_at: dt.datetime = _utc(nullable=False)
    count: int = Field(default=0)


class ResolutionRow(SQLModel, table=True):
    """One CRM account's catalog (pipelines, fields, users, stamp field) as last read live,
    and a hash of the mapping content it was read for: the resolution cache shared by every
    process on this store (:mod:`bridge.mapping.resolve_cache`)."""

    __tablename__ = "resolution_cache"

    account: str = Field(primary_key=True, max_length=64)  # sha256 of CRM kind and URL
    scope: str = Field(primary_key=True, max_length=64)  # sha256 of the mapping content
    catalog: Any = Field(sa_column=Column(JsonText(), nullable=False))
    read_at: dt.datetime = _utc(nullable=False)


class PartnerLeadRow(SQLModel, table=True):
    """A deal a partner registered for the agency: passed (``agency_deal_id`` is the deal the
    bridge created or adopted by stamp; the link of that pair is sourced by the partner) or
    held for the manager with ``reason`` (a channel conflict)."""

    __tablename__ = "partner_lead"
    __table_args__ = (Index("ix_partner_lead_agency", "agency_deal_id"),)

    partner_code: str = Field(primary_key=True, max_length=64)
    partner_deal_id: str = Field(primary_key=True, max_length=64)
    agency_deal_id: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=10)  # passed | held | released
    reason: str | None = Field(default=None)
    received_at: dt.datetime = _utc(nullable=False)
    updated_at: dt.datetime = _utc(nullable=False)
