"""Model requests and tokens per minute, per user (seed §6.2: the environment sets the limits).

A fixed one-minute window: a turn is admitted if the user's requests and tokens this minute stay
within the limits, else it waits for the next minute (auto mode is throttled, not failed). With
Redis the counters are shared by every process (one atomic script per check); without it they
live in this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimits:
    """Model requests and tokens a user may use a minute (None: no limit)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    @property
    def unlimited(self) -> bool:
        return self.requests_per_minute is None and self.tokens_per_minute is None


class RateLimiter:
    """In-process counters: one process serves everyone."""

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self._clock = clock
        self._windows: dict[str, tuple[int, int, int]] = {}

    async def admit(self, user_id: str, *, tokens: int) -> float:
        """0 if this request may go now (and it is counted), else seconds until it may."""
        if self.limits.unlimited:
            return 0.0
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        start, requests, used = self._windows.get(user_id, (window, 0, 0))
        if start != window:
            requests, used = 0, 0
        if _over(self.limits, requests + 1, used + tokens):
            return (window + 1) * WINDOW_SECONDS - now
        self._windows[user_id] = (window, requests + 1, used + tokens)
        return 0.0


def _over(limits: RateLimits, requests: int, tokens: int) -> bool:
    rpm, tpm = limits.requests_per_minute, limits.tokens_per_minute
    return (rpm is not None and requests > rpm) or (tpm is not None and tokens > tpm)


# KEYS: requests, tokens. ARGV: tokens, rpm (-1 none), tpm (-1 none), window seconds.
_ADMIT = """
local requests = redis.call('INCR', KEYS[1])
local tokens = redis.call('INCRBY', KEYS[2], ARGV[1])
if requests == 1 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
if tokens == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
local rpm, tpm = tonumber(ARGV[2]), tonumber(ARGV[3])
if (rpm >= 0 and requests > rpm) or (tpm >= 0 and tokens > tpm) then
  redis.call('DECR', KEYS[1])
  redis.call('DECRBY', KEYS[2], ARGV[1])
  return 0
end
return 1
"""


class RedisRateLimiter(RateLimiter):
    """The same window, counted in Redis so every web process and worker shares it."""

    def __init__(self, limits: RateLimits, redis: Redis, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(limits, clock=clock)
        self._script = redis.register_script(_ADMIT)

    async def admit(self, user_id: str, *, tokens: int) -> float:
        if self.limits.unlimited:
            return 0.0
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        keys = [f"tt:rate:{user_id}:{window}:requests", f"tt:rate:{user_id}:{window}:tokens"]
        rpm = self.limits.requests_per_minute
        tpm = self.limits.tokens_per_minute
        args = [tokens, -1 if rpm is None else rpm, -1 if tpm is None else tpm, WINDOW_SECONDS * 2]
        if await self._script(keys=keys, args=args):
            return 0.0
        return (window + 1) * WINDOW_SECONDS - now
