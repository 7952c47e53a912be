"""Commission ledger: append-only entries, unique per (partner, deal, cause), and the
observed link states they are derived from.

Revision ID: 0002_ledger
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ledger"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("partner_code", sa.String(64), nullable=False),
        sa.Column("agency_deal_id", sa.String(64), nullable=False),
        sa.Column("cause", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("rate", sa.String(64), nullable=True),
        sa.Column("base", sa.String(64), nullable=True),
        sa.Column("amount", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payer", sa.String(10), nullable=False),
        sa.Column("occurred_at", UTC, nullable=False),
        sa.Column("payable_at", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("ref", sa.String(200), nullable=True),
        sa.UniqueConstraint("partner_code", "agency_deal_id", "cause", name="uq_ledger_cause"),
    )
    op.create_index("ix_ledger_partner_occurred", "ledger_entry", ["partner_code", "occurred_at"])
    _observation()


def _observation() -> None:
    money = [
        sa.Column(f"{name}{suffix}", sa.String(64 if suffix == "" else 3), nullable=True)
        for name in ("amount", "fee", "paid")
        for suffix in ("", "_currency")
    ]
    op.create_table(
        "ledger_observation",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("partner_code", sa.String(64), nullable=False),
        sa.Column("agency_deal_id", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("observed_at", UTC, nullable=False),
        sa.Column("stage", sa.String(10), nullable=False),
        *money,
        sa.UniqueConstraint(
            "partner_code", "agency_deal_id", "digest", name="uq_ledger_observation"
        ),
    )


def downgrade() -> None:
    op.drop_table("ledger_observation")
    op.drop_index("ix_ledger_partner_occurred", table_name="ledger_entry")
    op.drop_table("ledger_entry")
