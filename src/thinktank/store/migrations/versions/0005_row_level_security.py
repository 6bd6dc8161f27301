"""row-level security on PostgreSQL

Revision ID: 0005
Revises: 0004

Every user-owned table gets a policy: a transaction sees and changes only the rows of the user in
`app.user_id`, unless it runs in the system scope (`app.scope = 'system'`: start-up, purges,
sign-in lookups, admin commands); with neither it sees nothing. FORCE makes the tables' owner
subject to the policies too. Superusers bypass row-level security: run the app as an ordinary role.
The seed's "delete based on preferences" policy becomes the rule for deleting conversations: their
owner may delete them; a system job only those whose owner chose a retention other than
permanent, or an automatic deletion age.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OWNED = [
    ("users", "id"),
    ("user_preferences", "user_id"),
    ("user_api_keys", "user_id"),
    ("personas", "user_id"),
    ("conversation_members", "user_id"),
    ("messages", "user_id"),
    ("cost_records", "user_id"),
    ("usage_counters", "user_id"),
    ("api_tokens", "user_id"),
    ("browser_sessions", "user_id"),
]
SYSTEM = "current_setting('app.scope', true) = 'system'"


def owner(column: str) -> str:
    return f"{column} = current_setting('app.user_id', true)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in OWNED:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        rule = f"({owner(column)} OR {SYSTEM})"
        op.execute(f"CREATE POLICY {table}_owner ON {table} USING {rule} WITH CHECK {rule}")
    op.execute("ALTER TABLE conversations ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE conversations FORCE ROW LEVEL SECURITY")
    rule = f"({owner('user_id')} OR {SYSTEM})"
    op.execute(f"CREATE POLICY conversations_read ON conversations FOR SELECT USING {rule}")
    op.execute(f"CREATE POLICY conversations_create ON conversations FOR INSERT WITH CHECK {rule}")
    op.execute(
        f"CREATE POLICY conversations_update ON conversations FOR UPDATE USING {rule} WITH CHECK {rule}"
    )
    op.execute(
        "CREATE POLICY conversations_delete_by_preferences ON conversations FOR DELETE USING ("
        f"{owner('user_id')} OR ({SYSTEM} AND EXISTS (SELECT 1 FROM user_preferences p "
        "WHERE p.user_id = conversations.user_id "
        "AND (p.data_retention <> 'permanent' OR p.delete_after_days IS NOT NULL))))"
    )
    op.execute("ALTER TABLE conversation_sessions ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE conversation_sessions FORCE ROW LEVEL SECURITY")
    via = f"({SYSTEM} OR EXISTS (SELECT 1 FROM conversations c WHERE c.id = conversation_id))"
    op.execute(
        f"CREATE POLICY conversation_sessions_owner ON conversation_sessions USING {via} WITH CHECK {via}"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY conversation_sessions_owner ON conversation_sessions")
    op.execute("ALTER TABLE conversation_sessions NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE conversation_sessions DISABLE ROW LEVEL SECURITY")
    for policy in ("read", "create", "update", "delete_by_preferences"):
        op.execute(f"DROP POLICY conversations_{policy} ON conversations")
    op.execute("ALTER TABLE conversations NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE conversations DISABLE ROW LEVEL SECURITY")
    for table, _ in OWNED:
        op.execute(f"DROP POLICY {table}_owner ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
