"""Initial schema: links, write intents, cursors, hint inbox, audit, partner health, oauth tokens.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True)


def upgrade() -> None:
    _link()
    _write_intent()
    op.create_table(
        "sync_cursor",
        sa.Column("system", sa.String(128), primary_key=True),
        sa.Column("value", UTC, nullable=True),
        sa.Column("boundary_ids", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC, nullable=True),
    )
    _hint()
    _audit()
    op.create_table(
        "partner_health",
        sa.Column("partner_code", sa.String(64), primary_key=True),
        sa.Column("last_success_at", UTC, nullable=True),
        sa.Column("last_error_at", UTC, nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("error_kind", sa.String(32), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
    )
    _oauth_token()


def _link() -> None:
    op.create_table(
        "link",
        _id(),
        sa.Column("agency_deal_id", sa.String(64), nullable=False),
        sa.Column("partner_code", sa.String(64), nullable=False),
        sa.Column("partner_deal_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("agency_updated_at", UTC, nullable=True),
        sa.Column("partner_updated_at", UTC, nullable=True),
        sa.Column("written_agency_hash", sa.String(64), nullable=True),
        sa.Column("written_partner_hash", sa.String(64), nullable=True),
        sa.Column("synced_json", sa.String(), nullable=True),
        sa.Column("agency_stage", sa.String(64), nullable=True),
        sa.Column("agency_amount", sa.String(64), nullable=True),
        sa.Column("agency_currency", sa.String(3), nullable=True),
        sa.Column("partner_stage", sa.String(64), nullable=True),
        sa.Column("partner_amount", sa.String(64), nullable=True),
        sa.Column("partner_currency", sa.String(3), nullable=True),
        sa.Column("park_reason", sa.String(), nullable=True),
        sa.Column("parked_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.UniqueConstraint("agency_deal_id", "partner_code", name="uq_link_agency_partner"),
    )
    op.create_index("ix_link_partner_deal", "link", ["partner_code", "partner_deal_id"])
    op.create_index("ix_link_status", "link", ["partner_code", "status"])


def _write_intent() -> None:
    op.create_table(
        "write_intent",
        _id(),
        sa.Column("partner_code", sa.String(64), nullable=False),
        sa.Column("agency_deal_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("stamp", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("partner_deal_id", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.UniqueConstraint("partner_code", "agency_deal_id", "kind", name="uq_intent"),
    )


def _hint() -> None:
    op.create_table(
        "hint",
        _id(),
        sa.Column("system", sa.String(128), nullable=False),
        sa.Column("deal_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("first_received", UTC, nullable=False),
        sa.Column("last_received", UTC, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("not_before", UTC, nullable=False),
        sa.UniqueConstraint("system", "deal_id", name="uq_hint_system_deal"),
    )
    op.create_index("ix_hint_not_before", "hint", ["not_before"])


def _audit() -> None:
    op.create_table(
        "audit",
        _id(),
        sa.Column("at", UTC, nullable=False),
        sa.Column("agency_deal_id", sa.String(64), nullable=False),
        sa.Column("partner_code", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("side", sa.String(20), nullable=True),
        sa.Column("field", sa.String(128), nullable=True),
        sa.Column("old_value", sa.String(), nullable=True),
        sa.Column("new_value", sa.String(), nullable=True),
        sa.Column("changed_by", sa.String(20), nullable=True),
        sa.Column("winner", sa.String(20), nullable=True),
        sa.Column("loser_value", sa.String(), nullable=True),
        sa.Column("detail", sa.String(), nullable=True),
    )
    op.create_index("ix_audit_link", "audit", ["agency_deal_id", "partner_code"])


def _oauth_token() -> None:
    # Owned by bridge.amocrm.oauth (OAuthToken); created here so the first schema is complete.
    op.create_table(
        "oauth_token",
        sa.Column("account", sa.String(), primary_key=True),
        sa.Column("access_token", sa.String(), nullable=False),
        sa.Column("refresh_token", sa.String(), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("refreshed_at", UTC, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in ("oauth_token", "partner_health", "audit", "hint", "sync_cursor"):
        op.drop_table(table)
    op.drop_table("write_intent")
    op.drop_table("link")
