"""Webhook deliveries per CRM account, for ``bridge hooks status``.

Revision ID: 0004_hooks
Revises: 0003_reports
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_hooks"
down_revision = "0003_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hook_delivery",
        sa.Column("system", sa.String(128), primary_key=True),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hook_delivery")
