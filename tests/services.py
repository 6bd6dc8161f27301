"""Real services for tests: PostgreSQL on 127.0.0.1:5432. A test that needs one skips with a visible
reason when it is absent, and fails instead when THINKTANK_REQUIRE_SERVICES=1 (as in CI)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_DSN = os.environ.get("THINKTANK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _missing(service: str, error: Exception) -> None:
    message = f"{service} is not reachable ({type(error).__name__}: {error})"
    if os.environ.get("THINKTANK_REQUIRE_SERVICES") == "1":
        pytest.fail(message + "; THINKTANK_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


async def _admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards. Yields its SQLAlchemy URL."""
    name = f"thinktank_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _missing("PostgreSQL", exc)
    base = POSTGRES_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
