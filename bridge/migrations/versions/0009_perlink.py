"""Per-link truth: each link's own outcome, and observations that end a link's money.

``link.outcome`` is the semantics (open/won/lost) of the partner deal's stage as last
mirrored: under fan-out every partner has its own, and the ledger, KPIs and digests
read it rather than the shared agency deal. ``ledger_observation.ended`` marks an
observation after which the link's commission is taken back (re-routed to another
partner), with the reason.

Revision ID: 0009_perlink
Revises: 0008_web_signout
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_perlink"
down_revision = "0008_web_signout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("link", sa.Column("outcome", sa.String(10), nullable=True))
    op.add_column("ledger_observation", sa.Column("ended", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_observation") as batch:
        batch.drop_column("ended")
    with op.batch_alter_table("link") as batch:
        batch.drop_column("outcome")
