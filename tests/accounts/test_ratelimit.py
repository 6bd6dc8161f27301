"""Requests and tokens per minute per user: in one process, and shared through Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from tests.services import fresh_redis
from thinktank.accounts.ratelimit import RateLimiter, RateLimits, RedisRateLimiter
from thinktank.ops.profiles import rate_limits
from thinktank.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_040.0  # 20 s into a minute

    def __call__(self) -> float:
        return self.now


async def test_a_user_over_the_requests_or_tokens_of_a_minute_waits_for_the_next() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimits(requests_per_minute=2, tokens_per_minute=1000), clock=clock)
    assert await limiter.admit("ada", tokens=400) == 0
    assert await limiter.admit("ada", tokens=400) == 0
    assert await limiter.admit("ada", tokens=10) == pytest.approx(40.0), "third request this minute"
    assert await limiter.admit("bob", tokens=900) == 0, "limits are per user"
    assert await limiter.admit("bob", tokens=200) > 0, "tokens over the minute's limit"
    clock.now += 40
    assert await limiter.admit("ada", tokens=10) == 0


@pytest.mark.redis
async def test_processes_share_the_minute_through_redis() -> None:
    clock = Clock()
    limits = RateLimits(requests_per_minute=3, tokens_per_minute=None)
    with fresh_redis() as url:
        client = Redis.from_url(url)
        try:
            web, worker = (
                RedisRateLimiter(limits, client, clock=clock),
                RedisRateLimiter(limits, client, clock=clock),
            )
            assert await web.admit("ada", tokens=5) == 0
            assert await worker.admit("ada", tokens=5) == 0
            assert await web.admit("ada", tokens=5) == 0
            assert await worker.admit("ada", tokens=5) > 0
            assert await web.admit("ada", tokens=5) > 0, "a refused request is not counted against later ones"
            clock.now += 60
            assert await worker.admit("ada", tokens=5) == 0
        finally:
            await client.aclose()


def test_each_environment_has_the_seeds_limits_unless_overridden() -> None:
    assert rate_limits(Settings()).unlimited
    assert rate_limits(Settings(environment="staging")) == RateLimits(10, 10_000)
    assert rate_limits(Settings(environment="production")) == RateLimits(60, 100_000)
    assert rate_limits(Settings(environment="production", rate_limit_rpm=0)) == RateLimits(None, 100_000)
    assert rate_limits(Settings(rate_limit_tpm=5000)) == RateLimits(None, 5000)
