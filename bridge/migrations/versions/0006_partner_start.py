"""When the bridge first synced each partner (the first connection is safe by default).

Revision ID: 0006_partner_start
Revises: 0005_stamp_seen
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_partner_start"
down_revision = "0005_stamp_seen"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_start",
        sa.Column("partner_code", sa.String(64), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("partner_start")
