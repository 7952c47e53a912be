"""Partner-registered leads: ``partner_lead`` (passed to the agency, or held).

Revision ID: 0011_leads
Revises: 0010_resolve
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_leads"
down_revision = "0010_resolve"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partner_lead",
        sa.Column("partner_code", sa.String(64), primary_key=True),
        sa.Column("partner_deal_id", sa.String(64), primary_key=True),
        sa.Column("agency_deal_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    )
    op.create_index("ix_partner_lead_agency", "partner_lead", ["agency_deal_id"])


def downgrade() -> None:
    op.drop_index("ix_partner_lead_agency", table_name="partner_lead")
    op.drop_table("partner_lead")
