"""PostgreSQL row-level security, run as an ordinary database role (superusers bypass RLS)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SECRET
from tests.services import POSTGRES_DSN, fresh_postgres_database
from tests.store.test_migrations import upgrade
from thinktank.accounts.tokens import create_user, issue_token
from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings
from thinktank.store.db import Database
from thinktank.store.scope import system_scope

pytestmark = pytest.mark.postgres
APP_ROLE = "thinktank_app"


async def grant_app_role(database: str) -> None:
    admin = await asyncpg.connect(POSTGRES_DSN.rsplit("/", 1)[0] + f"/{database}")
    try:
        await admin.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
            f"THEN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER; END IF; END $$"
        )
        await admin.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
        await admin.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}"
        )
    finally:
        await admin.close()


@pytest.fixture
def app_database() -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URL as the app role, plain DSN as the app role) of a fresh, migrated database."""
    with fresh_postgres_database() as url:
        upgrade(url)
        name = url.rsplit("/", 1)[1]
        asyncio.run(grant_app_role(name))
        host = url.split("@", 1)[1]
        yield f"postgresql+asyncpg://{APP_ROLE}@{host}", f"postgresql://{APP_ROLE}@{host}"


async def make_users(url: str) -> list[str]:
    db = Database(url)
    try:
        tokens = []
        with system_scope():
            async with db.session() as session:
                for email in ("ada@example.com", "bob@example.com"):
                    user = await create_user(session, email=email)
                    tokens.append((await issue_token(session, user_id=user.id, name="t")).token)
        return tokens
    finally:
        await db.dispose()


def test_the_app_works_under_rls_and_an_unscoped_query_sees_nothing(
    app_database: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, dsn = app_database
    ada_token, bob_token = asyncio.run(make_users(url))
    settings = Settings(
        database_url=url, scripted_latency=NO_LATENCY, data_dir=tmp_path, auth="multi", secret_key=SECRET
    )
    conversations = {}
    with caplog.at_level(logging.ERROR), TestClient(create_app(settings)) as client:
        for name, token in (("ada", ada_token), ("bob", bob_token)):
            headers = {"Authorization": f"Bearer {token}"}
            created = client.post(
                "/api/v1/conversations",
                json={"topic": f"{name} plans", "persona_ids": ["cfo", "end-user"], "model": "scripted"},
                headers=headers,
            )
            assert created.status_code == 201, created.text
            conversations[name] = created.json()["id"]
            assert (
                client.post(f"/api/v1/conversations/{conversations[name]}/turns", headers=headers).status_code
                == 200
            )
            listed = client.get("/api/v1/conversations", headers=headers).json()["items"]
            assert [c["id"] for c in listed] == [conversations[name]]
            assert client.get("/api/v1/usage", headers=headers).json()["day"]["tokens_used"] > 0
            assert (
                client.put(
                    "/api/v1/preferences",
                    json={"data_retention": "permanent", "delete_after_days": 30},
                    headers=headers,
                ).status_code
                == 200
            )
            exported = client.get("/api/v1/account/export", headers=headers).json()
            assert [c["id"] for c in exported["conversations"]] == [conversations[name]]
        throwaway = client.post(
            "/api/v1/tokens", json={"name": "x"}, headers={"Authorization": f"Bearer {bob_token}"}
        )
        assert throwaway.status_code == 201

    async def check() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            for table in (
                "users",
                "conversations",
                "messages",
                "cost_records",
                "conversation_members",
                "api_tokens",
            ):
                assert await connection.fetchval(f"SELECT count(*) FROM {table}") == 0, table
            ada = await connection.fetchval("SELECT user_id FROM api_tokens LIMIT 1")
            assert ada is None
            async with connection.transaction():
                await connection.execute("SELECT set_config('app.scope', 'system', true)")
                ada_id = await connection.fetchval("SELECT id FROM users WHERE email = 'ada@example.com'")
                assert await connection.fetchval("SELECT count(*) FROM messages") == 4
            async with connection.transaction():
                await connection.execute("SELECT set_config('app.user_id', $1, true)", ada_id)
                topics = await connection.fetch("SELECT topic FROM conversations")
                assert [r["topic"] for r in topics] == ["ada plans"]
                assert await connection.fetchval("SELECT count(*) FROM messages") == 2
                other = await connection.execute(
                    "UPDATE conversations SET title = 'hacked' WHERE topic = 'bob plans'"
                )
                assert other == "UPDATE 0"
            # The seed's "delete based on preferences": a system job may delete a conversation only when
            # its owner chose a retention other than permanent, or an automatic deletion age.
            ada_conversation = f"DELETE FROM conversations WHERE id = '{conversations['ada']}'"
            async with connection.transaction():
                await connection.execute("SELECT set_config('app.scope', 'system', true)")
                await connection.execute(
                    "UPDATE user_preferences SET data_retention = 'permanent', delete_after_days = NULL "
                    "WHERE user_id = $1",
                    ada_id,
                )
                assert await connection.execute(ada_conversation) == "DELETE 0"
                await connection.execute(
                    "UPDATE user_preferences SET data_retention = 'session' WHERE user_id = $1", ada_id
                )
                assert await connection.execute(ada_conversation) == "DELETE 1"
        finally:
            await connection.close()

    asyncio.run(check())
    assert "internal_error" not in caplog.text
