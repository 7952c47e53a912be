"""The resolution cache: per CRM account, the catalog resolution last read live.

Revision ID: 0010_resolve
Revises: 0009_perlink
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_resolve"
down_revision = "0009_perlink"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resolution_cache",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("catalog", sa.Text(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("resolution_cache")
