"""Signed-out web sessions, so a sign-out survives a restart of the daemon.

Revision ID: 0008_web_signout
Revises: 0007_cabinet
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_web_signout"
down_revision = "0007_cabinet"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_signout",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("signed_out_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
    )
    op.create_index("ix_web_signout_expires", "web_signout", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_web_signout_expires", table_name="web_signout")
    op.drop_table("web_signout")
