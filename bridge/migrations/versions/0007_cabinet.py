"""Partner cabinet: per-partner link key versions and payout requests with invoices.

Revision ID: 0007_cabinet
Revises: 0006_partner_start
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_cabinet"
down_revision = "0006_partner_start"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cabinet_key",
        sa.Column("partner_code", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", UTC, nullable=False),
        sa.Column("changed_by", sa.String(120), nullable=False),
    )
    op.create_table(
        "payout_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("partner_code", sa.String(64), nullable=False),
        sa.Column("amount", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("invoice_name", sa.String(200), nullable=False),
        sa.Column("invoice_sha256", sa.String(64), nullable=False),
        sa.Column("invoice", sa.LargeBinary(), nullable=False),
        sa.Column("requested_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("payout_ref", sa.String(200), nullable=True),
    )
    op.create_index("ix_payout_request_partner", "payout_request", ["partner_code", "status"])


def downgrade() -> None:
    op.drop_index("ix_payout_request_partner", table_name="payout_request")
    op.drop_table("payout_request")
    op.drop_table("cabinet_key")
