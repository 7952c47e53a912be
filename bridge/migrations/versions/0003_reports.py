"""Reports: channel-conflict handovers and flags, the digest's status-request notes.

Revision ID: 0003_reports
Revises: 0002_ledger
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The models of these tables live outside the store's metadata module; importing them
# here registers them on SQLModel.metadata, so a schema comparison after migrating
# sees the same tables this revision creates.
import bridge.channels.tables
import bridge.digest.tables  # noqa: F401

revision = "0003_reports"
down_revision = "0002_ledger"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_handover",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("partner_code", sa.String(64), nullable=False),
        sa.Column("agency_deal_id", sa.String(64), nullable=False),
        sa.Column("handed_at", UTC, nullable=False),
        sa.UniqueConstraint(
            "kind", "value", "partner_code", "agency_deal_id", name="uq_channel_handover"
        ),
    )
    op.create_index("ix_channel_handover_value", "channel_handover", ["kind", "value"])
    op.create_table(
        "channel_flag",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agency_deal_id", sa.String(64), nullable=False),
        sa.Column("partner_code", sa.String(64), nullable=False),
        sa.Column("flagged_at", UTC, nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("confirmed_at", UTC, nullable=True),
        sa.Column("detail", sa.String(), nullable=True),
        sa.UniqueConstraint("agency_deal_id", "partner_code", name="uq_channel_flag"),
    )
    op.create_table(
        "digest_note",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("partner_code", sa.String(64), nullable=False),
        sa.Column("agency_deal_id", sa.String(64), nullable=False),
        sa.Column("partner_deal_id", sa.String(64), nullable=False),
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("claimed_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.UniqueConstraint("partner_code", "agency_deal_id", "week", name="uq_digest_note_week"),
    )


def downgrade() -> None:
    op.drop_table("digest_note")
    op.drop_table("channel_flag")
    op.drop_index("ix_channel_handover_value", table_name="channel_handover")
    op.drop_table("channel_handover")
