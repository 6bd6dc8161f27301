"""The database: an async engine, sessions, and migrations to head.

The default is a SQLite file in the user's data directory; `THINKTANK_DATABASE_URL` selects any
other, PostgreSQL included (`postgresql+asyncpg://...`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

from thinktank.store.scope import SYSTEM, current_scope
from thinktank.store.writer import BatchWriter

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _private_file(url: str) -> None:
    """A SQLite database file is readable by its owner only (0600); SQLite gives its journal
    files the same mode."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    file = Path(path)
    if file.parent.is_dir():
        os.close(os.open(file, os.O_CREAT | os.O_WRONLY, 0o600))
        file.chmod(0o600)


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


class Database:
    """The SQLAlchemy engine and sessions (SQLite or PostgreSQL), migrations, and the batch writer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {}
        if self.is_sqlite:
            options["connect_args"] = {"timeout": 30}
            _private_file(url)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        if self.engine.dialect.name == "postgresql":
            # A session class of this database's own, so the listener never touches another database.
            scoped_session = type("ScopedSession", (Session,), {})
            event.listen(scoped_session, "after_begin", _tell_postgres_the_scope)
            self.sessions = async_sessionmaker(
                self.engine, expire_on_commit=False, sync_session_class=scoped_session
            )
        else:
            self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.writer = BatchWriter(self.sessions, postgres=self.engine.dialect.name == "postgresql")

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def upgrade(self, revision: str = "head") -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(_alembic_config(sync), revision))

    async def downgrade(self, revision: str) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(_alembic_config(sync), revision))

    async def current_revision(self) -> str | None:
        async with self.engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )

    def head_revision(self) -> str | None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(config).get_current_head()

    async def dispose(self) -> None:
        await self.writer.close()
        await self.engine.dispose()


def _tell_postgres_the_scope(_session: Any, _transaction: Any, connection: Connection) -> None:
    scope = current_scope()
    connection.execute(
        text("SELECT set_config('app.user_id', :user_id, true), set_config('app.scope', :scope, true)"),
        {"user_id": "" if scope in (None, SYSTEM) else scope, "scope": "system" if scope == SYSTEM else ""},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the API, SSE catch-up) proceed while a turn is being written.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
