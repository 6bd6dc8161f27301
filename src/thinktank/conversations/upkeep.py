"""The process's own housekeeping: start-up recovery, the hourly retention purge, unloading idle
conversations, and the metrics page."""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from thinktank.accounts import retention
from thinktank.conversations.ownership import Ownership
from thinktank.conversations.registry import IDLE_UNLOAD_SECONDS, Registry
from thinktank.events.log import Bus
from thinktank.jobs.scale import QUEUE_NAME
from thinktank.library.loader import Library
from thinktank.models.stack import ModelFactory
from thinktank.ops.metrics import Metrics
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.scope import system_scope

log = logging.getLogger(__name__)
PURGE_INTERVAL_SECONDS = 3600.0


class Upkeep:
    """Starts and stops the background work of a service, and reports its metrics."""

    def __init__(
        self,
        db: Database,
        *,
        library: Library,
        factory: ModelFactory,
        registry: Registry,
        ownership: Ownership,
        bus: Bus,
        metrics: Metrics,
    ) -> None:
        self.db = db
        self.library = library
        self.factory = factory
        self.registry = registry
        self.ownership = ownership
        self.bus = bus
        self.metrics = metrics
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, *, recover: bool = True) -> None:
        """`recover=False` for a short-lived command beside a server that may be running: it leaves
        that server's running conversations, reservations and the retention purge alone."""
        with system_scope():  # start-up work crosses users; so does the purge task started here
            await self._start(recover=recover)

    async def _start(self, *, recover: bool) -> None:
        paused = 0
        async with self.db.session() as session:
            await repo.ensure_local_user(session)
            await repo.sync_library(session, library=self.library, pricer=self.factory.pricer)
            if not recover:
                return
            if self.ownership.scale is None:
                # Alone, nothing can be running at start-up. With other processes, their turns are
                # real: workers take over what a dead process drove (see `ownership.sweep`).
                paused = await repo.pause_running(session)
                await repo.release_reservations(session)
            await retention.purge_expired(session, live=())
        if paused:
            log.warning(
                "%d conversation(s) were running when the server stopped; they are now paused", paused
            )
        self._tasks = [
            asyncio.create_task(self._purge_periodically(), name="retention purge"),
            asyncio.create_task(self._unload_periodically(), name="idle unload"),
        ]
        await self.ownership.start()

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def purge(self) -> int:
        """Apply every user's retention now (the server does this hourly by itself)."""
        with system_scope():
            async with self.db.session() as session:
                return await retention.purge_expired(session, live=set(self.registry.ids()))

    async def _purge_periodically(self) -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)
            try:
                await self.purge()
            except Exception:
                log.exception("the retention purge failed; it runs again in an hour")

    async def _unload_periodically(self) -> None:
        while True:
            await asyncio.sleep(IDLE_UNLOAD_SECONDS / 10)
            self.registry.unload_idle()

    async def render_metrics(self) -> bytes:
        scale = self.ownership.scale

        async def queue_depth() -> int | None:
            if scale is None:
                return None
            try:
                return int(await scale.redis.zcard(QUEUE_NAME))
            except RedisError:
                return None

        return await self.metrics.render(
            breakers=self.factory.breakers,
            sse_clients=self.bus.subscriber_count,
            live_conversations=len(self.registry.ids()),
            queue_depth=queue_depth,
        )
