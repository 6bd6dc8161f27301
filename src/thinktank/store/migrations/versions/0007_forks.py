"""forks of a conversation

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forked_from_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("forked_at", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("conversations_forked_from", "conversations", ["forked_from_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint("conversations_forked_from", type_="foreignkey")
        batch_op.drop_column("forked_at")
        batch_op.drop_column("forked_from_id")
