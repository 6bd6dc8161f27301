"""Migrations upgrade and downgrade on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tests.services import fresh_postgres_database
from thinktank.store.db import Database
from thinktank.store.tables import Base

SEED_TABLES = {
    "users",
    "user_preferences",
    "platform_api_keys",
    "user_api_keys",
    "persona_templates",
    "personas",
    "conversation_templates",
    "conversations",
    "conversation_members",
    "messages",
    "cost_records",
    "conversation_sessions",
}


def upgrade(url: str) -> None:
    async def run() -> None:
        db = Database(url)
        try:
            await db.upgrade()
        finally:
            await db.dispose()

    asyncio.run(run())


async def tables(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def round_trip(url: str) -> None:
    db = Database(url)
    try:
        await db.upgrade()
        assert await db.current_revision() == db.head_revision()
        assert await tables(db) >= SEED_TABLES
        assert set(Base.metadata.tables) <= await tables(db), "every model table is created by a migration"
        await db.downgrade("base")
        assert await db.current_revision() is None
        assert not (SEED_TABLES & await tables(db))
        await db.upgrade()
        assert await tables(db) >= SEED_TABLES
    finally:
        await db.dispose()


def test_sqlite_upgrades_and_downgrades(tmp_path: Path) -> None:
    asyncio.run(round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"))


@pytest.mark.postgres
def test_postgres_upgrades_and_downgrades() -> None:
    with fresh_postgres_database() as url:
        asyncio.run(round_trip(url))


async def models_match_migrations(url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = Database(url)
    try:
        await db.upgrade()
        async with db.engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        assert diff == [], f"the models and the migrations disagree: {diff}"
    finally:
        await db.dispose()


def test_the_migrations_create_exactly_the_models(tmp_path: Path) -> None:
    asyncio.run(models_match_migrations(f"sqlite+aiosqlite:///{tmp_path / 'cmp.db'}"))


@pytest.mark.postgres
def test_the_migrations_create_exactly_the_models_on_postgres() -> None:
    with fresh_postgres_database() as url:
        asyncio.run(models_match_migrations(url))
