"""batch runs

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OWNER = "(user_id = current_setting('app.user_id', true) OR current_setting('app.scope', true) = 'system')"


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "user_id", sa.String(length=36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("runs", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("max_cost", sa.Numeric(18, 8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("batches_by_user_newest", "batches", ["user_id", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE batches ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE batches FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY batches_owner ON batches USING {OWNER} WITH CHECK {OWNER}")


def downgrade() -> None:
    op.drop_index("batches_by_user_newest", table_name="batches")
    op.drop_table("batches")
