"""Auto mode: one task per conversation takes turns until it ends, here or on a job worker.

Alone, the task runs in this process. With other processes, a worker's `drive` job takes the
conversation's lease and runs it; a web process only queues the job. Exactly one runner per
conversation: starting auto mode twice is a no-op, and only one turn is ever in flight (the
engine's guard).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError

from thinktank.conversations.operations import MemoOrWrite, Target
from thinktank.conversations.ownership import Ownership
from thinktank.conversations.registry import Live, Registry
from thinktank.domain.vocabulary import ENDED
from thinktank.errors import UserError
from thinktank.events.log import Bus
from thinktank.jobs.scale import Scale
from thinktank.store import repository as repo
from thinktank.store.db import Database

log = logging.getLogger(__name__)
DRIVE_ACQUIRE_SECONDS = 10.0


class AutoRuns:
    """Starts, stops and drives the auto mode of conversations."""

    def __init__(self, db: Database, *, registry: Registry, ownership: Ownership, bus: Bus) -> None:
        self.db = db
        self.registry = registry
        self.ownership = ownership
        self.bus = bus
        self._driving: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def scale(self) -> Scale | None:
        return self.ownership.scale

    async def start(self, conversation_id: str, live: Live) -> None:
        # Ended first: a run that has just finished may still be writing its memo.
        refuse_ended(live.engine.status, live.engine.stop_reason)
        if live.running:
            return
        if self.scale is not None:
            if self.scale.drives_here:
                task = asyncio.create_task(self.drive(user_id=live.user_id, conversation_id=conversation_id))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            else:
                await self.scale.enqueue_drive(conversation_id, live.user_id)  # a worker runs it
            return
        live.runner = asyncio.create_task(self._run(conversation_id, live), name=f"auto:{conversation_id}")

    async def stop(self, live: Live) -> None:
        """Leave auto mode; a turn already in flight finishes first."""
        await live.engine.leave_auto()
        if live.runner is not None and not live.runner.done():
            await asyncio.wait({live.runner})

    async def cancel_all(self) -> None:
        runners = self.registry.runners()
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)

    async def drive(self, *, user_id: str, conversation_id: str) -> str:
        """A job worker runs a conversation's auto mode while it holds its lease (arq's job)."""
        scale = self.scale
        assert scale is not None
        deadline = asyncio.get_running_loop().time() + DRIVE_ACQUIRE_SECONDS
        # The web process that queued this job may still hold the lease for a moment.
        while not await self.ownership.acquire(conversation_id):
            if asyncio.get_running_loop().time() > deadline:
                return "held elsewhere"
            await asyncio.sleep(0.05)
        if conversation_id in self._driving:
            return "already running here"
        # Claimed before the first await, so a second drive of the same conversation stops above.
        self._driving.add(conversation_id)
        async with self.ownership.holding(conversation_id):
            try:
                return await self._drive_held(Target(user_id, conversation_id), scale=scale)
            finally:
                self._driving.discard(conversation_id)  # before the lease is let go

    async def _drive_held(self, target: Target, *, scale: Scale) -> str:
        """The drive, once this process holds the lease and counts it as a use."""
        user_id, conversation_id = target.user_id, target.conversation_id
        await scale.drive_started(conversation_id)
        async with self.db.session() as session:
            row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            run_mode, status = row.run_mode, row.status
        if run_mode != "auto" or status not in ("idle", "running"):
            return f"not in auto mode ({run_mode}, {status})"
        live = await self.registry.live(user_id=user_id, conversation_id=conversation_id)
        if live.running:
            return "already running here"
        if status == "running":
            # Its last holder died mid-run: what it streamed of an unfinished turn is void.
            await self.bus.publish(
                conversation_id, {"type": "sync.required", "reason": "taken over by another worker"}
            )
        live.runner = asyncio.create_task(self._run(conversation_id, live), name=f"auto:{conversation_id}")
        await asyncio.wait({live.runner})
        return live.engine.status

    async def _run(self, conversation_id: str, live: Live) -> None:
        structlog.contextvars.bind_contextvars(conversation_id=conversation_id)  # this task's log lines
        try:
            await live.engine.run_auto()
        except asyncio.CancelledError:
            raise
        except IntegrityError:
            # The database fence: another process stored a message at this place, so it holds the
            # conversation now. Write nothing more; it carries on.
            log.warning("conversation %s was taken over by another process; this one stops", conversation_id)
            self.registry.let_go_now(conversation_id)
            return
        except Exception:
            log.exception("auto mode of conversation %s failed", conversation_id)
            await live.engine.pause()
            return
        if live.engine.status == "finished":
            await self._memo_at_the_end(conversation_id, live)

    async def _memo_at_the_end(self, conversation_id: str, live: Live) -> None:
        """A discussion that ran to its end gets its decision memo; one that fails to be written
        is logged and can be asked for again, and the transcript is untouched either way."""
        try:
            await self.ownership.run(Target(live.user_id, conversation_id), MemoOrWrite())
        except Exception:
            log.exception("the memo of conversation %s could not be written", conversation_id)


def refuse_ended(status: str, reason: str) -> None:
    """Auto mode cannot start on a conversation that was stopped or ran to its end."""
    if status in ENDED:
        raise UserError(f"this conversation has ended ({reason})")
