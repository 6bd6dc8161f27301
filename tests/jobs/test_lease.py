"""Leases on this machine's Redis: one holder at a time, renewed only by it, released only by it."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from thinktank.jobs.lease import Leases, lease_key

pytestmark = pytest.mark.redis


async def test_one_holder_at_a_time_and_only_the_holder_renews_or_releases(redis: Redis) -> None:
    first, second = Leases(redis, owner="a", ttl=5), Leases(redis, owner="b", ttl=5)
    assert await first.acquire("c1")
    assert not await second.acquire("c1")
    assert await second.holder("c1") == "a"
    assert not await second.renew("c1")
    await second.release("c1")
    assert await first.holder("c1") == "a", "a stranger's release changes nothing"
    assert await first.renew("c1")
    await first.release("c1")
    assert await second.acquire("c1")


async def test_a_lease_nobody_renews_expires_and_can_be_taken_over(redis: Redis) -> None:
    dying, survivor = Leases(redis, owner="dying", ttl=1), Leases(redis, owner="survivor", ttl=1)
    loop = asyncio.get_running_loop()
    assert await dying.acquire("c1")
    acquired = loop.time()
    assert not await survivor.acquire("c1"), "held until it expires"
    # Wait for the lease's own deadline as Redis counts it (its remaining PTTL), not a guessed while.
    while not await survivor.acquire("c1"):
        assert loop.time() - acquired < 5, "the lease never expired"
        await asyncio.sleep(max(await redis.pttl(lease_key("c1")), 1) / 1000)
    assert loop.time() - acquired >= 0.9, "the lease expired before its ttl"
    assert not await dying.renew("c1"), "the old holder learns it lost the lease"
