"""A deployment as in production, on this machine's PostgreSQL and Redis: real processes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.services import fresh_postgres_database, fresh_redis
from thinktank.store.db import Database


@dataclass(frozen=True)
class Deployment:
    database_url: str
    redis_url: str


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.upgrade()
    finally:
        await db.dispose()


@pytest.fixture
def deployment() -> Iterator[Deployment]:
    with fresh_postgres_database() as database_url, fresh_redis() as redis_url:
        asyncio.run(_migrate(database_url))
        yield Deployment(database_url, redis_url)
