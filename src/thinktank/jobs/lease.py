"""Who may change a conversation right now: a lease in Redis, held by one process at a time.

The holder renews it every `ttl / 3` seconds; a holder that dies stops renewing and the lease
expires after `ttl`, so another process takes over. The database is the fence behind it: a
message's position is unique per conversation, so a holder that lost its lease without noticing
cannot store a second message at the same place.
"""

from __future__ import annotations

from redis.asyncio import Redis

DEFAULT_TTL_SECONDS = 10.0

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def lease_key(conversation_id: str) -> str:
    return f"tt:lease:{conversation_id}"


class Leases:
    """Leases on conversations in Redis: acquire, renew, release, and who holds one."""

    def __init__(self, redis: Redis, *, owner: str, ttl: float = DEFAULT_TTL_SECONDS) -> None:
        self.redis = redis
        self.owner = owner
        self.ttl = ttl
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    @property
    def _ttl_ms(self) -> int:
        return int(self.ttl * 1000)

    async def acquire(self, conversation_id: str) -> bool:
        return bool(await self.redis.set(lease_key(conversation_id), self.owner, nx=True, px=self._ttl_ms))

    async def renew(self, conversation_id: str) -> bool:
        return bool(await self._renew(keys=[lease_key(conversation_id)], args=[self.owner, self._ttl_ms]))

    async def renew_many(self, conversation_ids: list[str]) -> list[bool]:
        """Renew all of them in one round trip (a worker may hold thousands)."""
        if not conversation_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                await self._renew(
                    keys=[lease_key(conversation_id)], args=[self.owner, self._ttl_ms], client=pipe
                )
            return [bool(result) for result in await pipe.execute()]

    async def holders(self, conversation_ids: list[str]) -> list[str | None]:
        if not conversation_ids:
            return []
        values = await self.redis.mget([lease_key(c) for c in conversation_ids])
        return [None if v is None else v.decode() if isinstance(v, bytes) else str(v) for v in values]

    async def release(self, conversation_id: str) -> None:
        await self._release(keys=[lease_key(conversation_id)], args=[self.owner])

    async def holder(self, conversation_id: str) -> str | None:
        value = await self.redis.get(lease_key(conversation_id))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)
