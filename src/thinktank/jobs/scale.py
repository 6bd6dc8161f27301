"""What a process needs to share conversations with other processes through Redis.

A web process (`thinktank serve` with THINKTANK_REDIS_URL) and a job worker (`thinktank worker`)
both hold one `Scale`; only workers drive auto mode (`drives_here`), web processes queue a drive
job instead.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

from arq.connections import ArqRedis, RedisSettings, create_pool

from thinktank.jobs.commands import Commands
from thinktank.jobs.lease import DEFAULT_TTL_SECONDS, Leases

QUEUE_NAME = "thinktank:jobs"
DRIVE_JOB = "drive_conversation"
BATCH_JOB = "run_batch"
QUEUED_SECONDS = 60
"""A queued drive counts as on its way this long; after that the sweep queues another."""


def queued_key(conversation_id: str) -> str:
    return f"tt:drive-queued:{conversation_id}"


def process_name(kind: str) -> str:
    """Unique per process, readable in Redis: `worker:host:pid:random`."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 2
    return settings


@dataclass
class Scale:
    """What runs a deployment across processes: Redis, the leases, forwarded commands, the job queue."""

    redis: ArqRedis
    leases: Leases
    commands: Commands
    drives_here: bool

    @property
    def owner(self) -> str:
        return self.leases.owner

    async def enqueue_drive(self, conversation_id: str, user_id: str) -> bool:
        """Queue a drive unless one is queued already (False then)."""
        if not await self.redis.set(queued_key(conversation_id), self.owner, nx=True, ex=QUEUED_SECONDS):
            return False
        await self.redis.enqueue_job(DRIVE_JOB, conversation_id, user_id, _queue_name=QUEUE_NAME)
        return True

    async def drive_started(self, conversation_id: str) -> None:
        await self.redis.delete(queued_key(conversation_id))

    async def unattended(self, conversation_ids: list[str]) -> list[str]:
        """Those that no process holds and no queued drive is about to take."""
        if not conversation_ids:
            return []
        holders = await self.leases.holders(conversation_ids)
        queued = await self.redis.mget([queued_key(c) for c in conversation_ids])
        return [
            c
            for c, holder, mark in zip(conversation_ids, holders, queued, strict=True)
            if not holder and not mark
        ]

    async def enqueue_batch(self, batch_id: str, user_id: str) -> None:
        await self.redis.enqueue_job(BATCH_JOB, batch_id, user_id, _queue_name=QUEUE_NAME)

    async def close(self) -> None:
        await self.commands.close()
        await self.redis.aclose()


async def connect(url: str, *, kind: str, drives_here: bool, lease_ttl: float = DEFAULT_TTL_SECONDS) -> Scale:
    redis = await create_pool(redis_settings(url), default_queue_name=QUEUE_NAME)
    owner = process_name(kind)
    return Scale(
        redis=redis,
        leases=Leases(redis, owner=owner, ttl=lease_ttl),
        commands=Commands(redis, owner=owner),
        drives_here=drives_here,
    )
