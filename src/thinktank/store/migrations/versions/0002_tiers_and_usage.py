"""tiers and usage counters

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tier", sa.String(length=40), server_default="free", nullable=False))
    op.create_table(
        "usage_counters",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("tokens_used", sa.Integer(), nullable=False),
        sa.Column("tokens_reserved", sa.Integer(), nullable=False),
        sa.Column("billed_used", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("billed_reserved", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "period"),
    )


def downgrade() -> None:
    op.drop_table("usage_counters")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("tier")
