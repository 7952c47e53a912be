"""Stamped partner deals listed by a poll that no link of this store names.

Revision ID: 0005_stamp_seen
Revises: 0004_hooks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_stamp_seen"
down_revision = "0004_hooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stamp_seen",
        sa.Column("partner_code", sa.String(64), primary_key=True),
        sa.Column("partner_deal_id", sa.String(64), primary_key=True),
        sa.Column("stamp", sa.String(128), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_stamp_seen_stamp", "stamp_seen", ["stamp"])


def downgrade() -> None:
    op.drop_index("ix_stamp_seen_stamp", "stamp_seen")
    op.drop_table("stamp_seen")
