"""Which process runs a conversation: leases, their renewal, the sweep, and forwarding.

Alone (no `Scale`), this process runs every conversation. With other processes, a conversation is
run by the holder of its lease (`jobs.lease`): an operation runs here when this process holds the
lease or can take it, else it is sent to the holder (`jobs.commands`) and its result or error comes
back. A lease is held while something uses the conversation here and let go after the last use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar, cast

from redis.exceptions import RedisError

from thinktank.conversations.operations import Handlers, Operation, Target
from thinktank.conversations.registry import Registry
from thinktank.errors import ServiceUnavailable
from thinktank.jobs import wire
from thinktank.jobs.commands import NotHolder, Request
from thinktank.jobs.scale import Scale
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.scope import scoped, system_scope

log = logging.getLogger(__name__)
R = TypeVar("R")

FORWARD_PATIENCE_SECONDS = 15.0
"""How long a request waits for a conversation's holder to answer or its lease to expire."""
FORWARD_TIMEOUT_SECONDS = 300
"""A forwarded turn may take as long as a slow model."""


class Ownership:
    """Runs operations where their conversation is held, and keeps this process's leases."""

    def __init__(self, registry: Registry, *, scale: Scale | None, handlers: Handlers) -> None:
        self.registry = registry
        self.scale = scale
        """None: this process alone serves every conversation (the embedded default)."""
        self.handlers = handlers
        self._renewer: asyncio.Task[None] | None = None

    async def run(self, target: Target, operation: Operation[R]) -> R:
        """Run `operation` where the conversation is held: here when alone; with other processes,
        here if this process holds (or can take) its lease, else on the holder, by request."""
        scale = self.scale
        conversation_id = target.conversation_id
        if scale is None or self.registry.held(conversation_id):
            return await self.handlers.run(target, operation)
        deadline = asyncio.get_running_loop().time() + FORWARD_PATIENCE_SECONDS
        while True:
            if self.registry.held(conversation_id) or await scale.leases.acquire(conversation_id):
                async with self.holding(conversation_id):
                    return await self.handlers.run(target, operation)
            holder = await scale.leases.holder(conversation_id)
            if holder is not None:
                arguments = wire.encode(operation.arguments())
                request = Request(operation.name, target.user_id, conversation_id, arguments)
                try:
                    answer = await scale.commands.call(holder, request, wait_seconds=FORWARD_TIMEOUT_SECONDS)
                    # The holder ran the same operation, so its answer has the operation's type.
                    return cast(R, wire.decode(answer))
                except NotHolder:
                    pass
            if asyncio.get_running_loop().time() > deadline:
                raise ServiceUnavailable(
                    "the process running this conversation does not answer; try again in a few seconds"
                )
            await asyncio.sleep(0.1)

    async def answer(self, request: Request) -> Any:
        """Run an operation another process sent here, if this process still holds its conversation."""
        if not self.registry.held(request.conversation_id):
            raise NotHolder(request.conversation_id)
        async with self.holding(request.conversation_id):
            with scoped(request.user_id):
                operation = self.handlers.operation(request.op, wire.decode(request.arguments))
                result = await self.handlers.run(Target(request.user_id, request.conversation_id), operation)
            return wire.encode(result)

    async def acquire(self, conversation_id: str) -> bool:
        """This process holds the lease now (it did already, or took it)."""
        if self.registry.held(conversation_id):
            return True
        return self.scale is not None and await self.scale.leases.acquire(conversation_id)

    @contextlib.asynccontextmanager
    async def holding(self, conversation_id: str) -> AsyncIterator[None]:
        """One use of a conversation whose lease this process holds; the last use lets it go."""
        self.registry.use(conversation_id)
        try:
            yield
        finally:
            if self.registry.unuse(conversation_id) and self.scale is not None:
                with contextlib.suppress(RedisError):
                    await self.scale.leases.release(conversation_id)

    async def start(self) -> None:
        """Answer other processes' requests and keep renewing the leases held here."""
        if self.scale is not None:
            await self.scale.commands.serve(self.answer)
            self._renewer = asyncio.create_task(self._renew_leases(), name="lease renewal")

    def stop(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()

    async def release_all(self) -> None:
        """Let every lease go at once, so another worker takes over now rather than when they expire."""
        if self.scale is not None:
            for conversation_id in self.registry.held_ids():
                with contextlib.suppress(RedisError):
                    await self.scale.leases.release(conversation_id)

    async def _renew_leases(self) -> None:
        scale = self.scale
        assert scale is not None
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        while True:
            await asyncio.sleep(scale.leases.ttl / 3)
            held = self.registry.held_ids()
            try:
                kept = await scale.leases.renew_many(held)
            except RedisError:
                # Unsure: keep going until the leases would have expired anyway.
                if loop.time() - renewed_at < scale.leases.ttl:
                    continue
                kept = [False] * len(held)
            else:
                renewed_at = loop.time()
            for conversation_id, still in zip(held, kept, strict=True):
                if not still and self.registry.held(conversation_id):
                    log.warning(
                        "lost the lease of conversation %s; another process may take it", conversation_id
                    )
                    self.registry.let_go_now(conversation_id)

    async def sweep(self, db: Database) -> int:
        """Queue a drive for every conversation in auto mode that no process holds (its worker
        died, or Redis lost the queue); the drive job itself makes sure only one runs it."""
        scale = self.scale
        assert scale is not None
        with system_scope():
            async with db.session() as session:
                waiting = await repo.auto_conversations(session)
        owners = dict(waiting)
        candidates = [c for c in owners if not self.registry.held(c)]
        queued = 0
        for conversation_id in await scale.unattended(candidates):
            queued += await scale.enqueue_drive(conversation_id, owners[conversation_id])
        return queued
