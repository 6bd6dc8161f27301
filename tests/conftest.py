from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from tests.fakes import FakeClock, FakeServer
from tests.services import fresh_redis
from thinktank.models.guard import network_models


@pytest.fixture(autouse=True)
def _no_real_model_calls() -> Iterator[None]:
    """Tests never call a real provider: the process-wide switch is off for every test."""
    with network_models(False):
        yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of this machine's Redis, on the tests' own database, emptied before and after."""
    with fresh_redis() as url:
        client = Redis.from_url(url)
        try:
            yield client
        finally:
            await client.aclose()


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """For tests that run what tunes the garbage collector (`tune_gc`): the test process gets its
    own settings back afterwards."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
