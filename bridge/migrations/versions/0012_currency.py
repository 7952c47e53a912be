"""Exchange rates entered by the admin; the conversion behind ledger amounts.

Revision ID: 0012_currency
Revises: 0011_leads
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_currency"
down_revision = "0011_leads"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
FX_TABLES = ("ledger_entry", "ledger_observation")


def _fx_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("fx_rate", sa.String(64), nullable=True),
        sa.Column("fx_pair", sa.String(7), nullable=True),
        sa.Column("fx_date", sa.Date(), nullable=True),
        sa.Column("fx_source", sa.String(64), nullable=True),
        sa.Column("fx_source_currency", sa.String(3), nullable=True),
        sa.Column("fx_exact", sa.String(64), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "exchange_rate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("base", sa.String(3), nullable=False),
        sa.Column("quote", sa.String(3), nullable=False),
        sa.Column("rate", sa.String(64), nullable=False),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("entered_by", sa.String(120), nullable=False),
        sa.Column("entered_at", UTC, nullable=False),
    )
    op.create_index("ix_exchange_rate_pair", "exchange_rate", ["base", "quote", "effective"])
    for table in FX_TABLES:
        with op.batch_alter_table(table) as batch:
            for column in _fx_columns():
                batch.add_column(column)


def downgrade() -> None:
    for table in FX_TABLES:
        with op.batch_alter_table(table) as batch:
            for column in _fx_columns():
                batch.drop_column(column.name)
    op.drop_index("ix_exchange_rate_pair", table_name="exchange_rate")
    op.drop_table("exchange_rate")
