"""Hints addressed to one partner: the agency job routes agency changes to partner jobs.

A hint with ``partner`` NULL is a plain "deal changed in this system" (webhooks,
retries); one with ``partner`` set is an agency change the agency job routed to that
partner (scale-out on PostgreSQL), taken only by that partner's job. One row per
(system, deal) and address: two partial unique indexes, because a plain unique key
would treat every NULL as distinct on both SQLite and PostgreSQL.

Revision ID: 0013_partnerjobs
Revises: 0012_currency
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_partnerjobs"
down_revision = "0012_currency"
branch_labels = None
depends_on = None

UNADDRESSED = sa.text("partner IS NULL")
ADDRESSED = sa.text("partner IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("hint") as batch:
        batch.add_column(sa.Column("partner", sa.String(64), nullable=True))
        batch.drop_constraint("uq_hint_system_deal", type_="unique")
    op.create_index(
        "uq_hint_unaddressed",
        "hint",
        ["system", "deal_id"],
        unique=True,
        sqlite_where=UNADDRESSED,
        postgresql_where=UNADDRESSED,
    )
    op.create_index(
        "uq_hint_addressed",
        "hint",
        ["system", "deal_id", "partner"],
        unique=True,
        sqlite_where=ADDRESSED,
        postgresql_where=ADDRESSED,
    )


def downgrade() -> None:
    op.execute("DELETE FROM hint WHERE partner IS NOT NULL")
    op.drop_index("uq_hint_addressed", table_name="hint")
    op.drop_index("uq_hint_unaddressed", table_name="hint")
    with op.batch_alter_table("hint") as batch:
        batch.create_unique_constraint("uq_hint_system_deal", ["system", "deal_id"])
        batch.drop_column("partner")
