"""The conversations this process keeps in memory, the uses it holds of them, and restoring them.

A conversation in use lives here as a `Live` (its engine and what the service knows beside it).
Any other is restored from the database on demand through `engine.setup.build_engine`, the same
builder the CLI starts conversations with. With other processes sharing the database, only a
conversation this process holds stays here; any other is read as a fresh snapshot each time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from thinktank.accounts import retention
from thinktank.accounts.plans import Plans
from thinktank.accounts.user_models import UserModels
from thinktank.domain import DiscussionMode
from thinktank.domain.vocabulary import ENDED, ConversationStatus
from thinktank.engine.config import EngineConfig, Persistence
from thinktank.engine.context import ContextWindow, Summary
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.events import ErrorOccurred, Event, EventSink, MessageCompleted, StateChanged
from thinktank.engine.setup import ModelChoice, build_engine
from thinktank.events.log import Bus
from thinktank.models.ids import ModelId, parse_model_id
from thinktank.models.stack import ModelFactory
from thinktank.ops.metrics import Metrics
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.persistence import StorePersistence

IDLE_UNLOAD_SECONDS = 600.0
"""A conversation nobody used for this long leaves memory (it is restored from the database)."""

Ended = Callable[[str, str], Awaitable[None]]
"""Called with (user_id, conversation_id) when a conversation kept only for its session ends."""


@dataclass
class Live:
    """A conversation as this process has it: its engine, and what the service keeps beside it."""

    engine: ConversationEngine
    user_id: str
    factory: ModelFactory
    retention: str = "permanent"
    override: ModelId | None = None
    memo: dict[str, Any] | None = None
    runner: asyncio.Task[None] | None = None
    memo_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One memo written at a time: the end of a run and a comparison never both write one."""
    used_at: float = field(default_factory=time.monotonic)
    """When a request last asked for it (`unload_idle` forgets those unused for a while)."""

    @property
    def running(self) -> bool:
        """Auto mode runs here now."""
        return self.runner is not None and not self.runner.done()


class Registry:
    """The live conversations of this process and the uses of them it holds."""

    def __init__(
        self,
        db: Database,
        *,
        bus: Bus,
        metrics: Metrics,
        plans: Plans,
        user_models: UserModels,
        shared: bool,
        on_ended: Ended,
    ) -> None:
        self.db = db
        self.bus = bus
        self.metrics = metrics
        self.plans = plans
        self.user_models = user_models
        self.shared = shared
        """Other processes share the database: only what this process holds is kept here."""
        self.on_ended = on_ended
        self._live: dict[str, Live] = {}
        self._holds: dict[str, int] = {}
        self._loading = asyncio.Lock()

    # --- what is here ------------------------------------------------------------------------

    def loaded(self, conversation_id: str) -> Live | None:
        return self._live.get(conversation_id)

    def ids(self) -> list[str]:
        return list(self._live)

    def owned_by(self, user_id: str) -> list[tuple[str, Live]]:
        return [(cid, live) for cid, live in self._live.items() if live.user_id == user_id]

    def runners(self) -> list[asyncio.Task[None]]:
        return [live.runner for live in self._live.values() if live.runner and not live.runner.done()]

    def drop(self, conversation_id: str) -> None:
        """Forget the conversation here; its auto run, if any, is cancelled."""
        live = self._live.pop(conversation_id, None)
        if live is not None and live.runner is not None:
            live.runner.cancel()

    def clear(self) -> None:
        self._holds.clear()
        self._live.clear()

    async def live(self, *, user_id: str, conversation_id: str) -> Live:
        """The conversation as this process sees it. With other processes, one that it does not hold
        is read fresh from the database each time (a snapshot: what another process is doing may
        change it a moment later; its events come through the bus)."""
        live = self._live.get(conversation_id)
        if live is not None:
            if live.user_id != user_id:
                raise repo.NotFound("conversation", conversation_id)
            live.used_at = time.monotonic()
            return live
        if self.shared and conversation_id not in self._holds:
            return await self._restore(user_id=user_id, conversation_id=conversation_id, snapshot=True)
        async with self._loading:
            live = self._live.get(conversation_id)
            if live is None:
                live = await self._restore(user_id=user_id, conversation_id=conversation_id)
                self._live[conversation_id] = live
        if live.user_id != user_id:
            raise repo.NotFound("conversation", conversation_id)
        return live

    def unload_idle(self, *, idle_seconds: float = IDLE_UNLOAD_SECONDS) -> int:
        """Forget the engines of conversations nobody used for `idle_seconds`: not running, not
        speaking, not writing a memo, not held for another process, and stored (with retention
        "none" the engine is the only copy). The next use restores them from the database."""
        now = time.monotonic()
        idle = [
            conversation_id
            for conversation_id, live in self._live.items()
            if now - live.used_at > idle_seconds
            and conversation_id not in self._holds
            and not live.running
            and not live.engine.busy
            and not live.memo_lock.locked()
            and live.retention != "none"
        ]
        for conversation_id in idle:
            del self._live[conversation_id]
        return len(idle)

    # --- uses held (the lease itself is `ownership`'s) ---------------------------------------

    def held(self, conversation_id: str) -> bool:
        return conversation_id in self._holds

    def held_ids(self) -> list[str]:
        return list(self._holds)

    def use(self, conversation_id: str) -> None:
        self._holds[conversation_id] = self._holds.get(conversation_id, 0) + 1

    def unuse(self, conversation_id: str) -> bool:
        """One use less. At none, and with no auto run here, the conversation leaves memory and the
        answer is True: its lease may go."""
        count = self._holds.get(conversation_id, 0) - 1
        live = self._live.get(conversation_id)
        if count > 0 or (live is not None and live.running):
            self._holds[conversation_id] = max(count, 0)
            return False
        self._holds.pop(conversation_id, None)
        self._live.pop(conversation_id, None)
        return True

    def let_go_now(self, conversation_id: str) -> None:
        """The lease is lost: forget the conversation here without writing anything of it."""
        self._holds.pop(conversation_id, None)
        live = self._live.pop(conversation_id, None)
        if live is not None and live.runner is not None and live.runner is not asyncio.current_task():
            live.runner.cancel()

    # --- restoring ---------------------------------------------------------------------------

    async def _restore(self, *, user_id: str, conversation_id: str, snapshot: bool = False) -> Live:
        async with self.db.session() as session:
            row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            kept = (await retention.preferences(session, user_id=user_id)).data_retention
            personas = await repo.active_members(session, user_id=user_id, conversation_id=conversation_id)
            history = await repo.load_messages(session, user_id=user_id, conversation_id=conversation_id)
            totals = await repo.load_totals(session, user_id=user_id, conversation_id=conversation_id)
        settings: dict[str, Any] = row.settings or {}
        # The row's mode and status are plain strings, only ever written from the domain's Literals.
        choice = ModelChoice(
            override=_model(settings, "model_override"),
            scorer="heuristic" if row.scorer == "heuristic" else "llm",
            scorer_model=_model(settings, "scorer_model"),
            summary_model=_model(settings, "summary_model"),
        )
        factory = await self.user_models.factory_for(user_id, touch=not snapshot)
        context = ContextWindow(budget_tokens=int(settings.get("context_budget_tokens") or 1200))
        context.summary = Summary(row.summary, row.summary_covers_upto)
        config = EngineConfig(
            topic=row.topic,
            mode=cast(DiscussionMode, row.mode),
            seed=row.seed,
            speed=row.speed,
            turn_delay=settings.get("turn_delay"),
            max_messages=row.max_messages,
            max_cost=row.max_cost,
            reply_tokens=int(settings.get("reply_tokens") or 300),
        )
        engine = build_engine(
            config,
            personas=personas,
            choice=choice,
            factory=factory,
            context=context,
            sink=self._sink(conversation_id, user_id, kept),
            # Retention "none": the conversation lives in memory only, nothing of it is written.
            persistence=Persistence()
            if kept == "none"
            else StorePersistence(self.db, user_id=user_id, conversation_id=conversation_id),
            history=history,
            totals=totals,
            budget=await self.plans.budget_for(user_id),
        )
        # A snapshot shows what the holder is doing; a conversation loaded to be run is not running yet.
        running = row.status == "running" and not snapshot
        engine.status = "idle" if running else cast(ConversationStatus, row.status)
        engine.stop_reason = row.stop_reason
        return Live(engine=engine, user_id=user_id, factory=factory, retention=kept, override=choice.override)

    def _sink(self, conversation_id: str, user_id: str, kept: str) -> EventSink:
        async def publish(event: Event) -> None:
            await self.bus.publish(conversation_id, event.to_json())
            if isinstance(event, MessageCompleted):
                self.metrics.message_completed(event.message)
            elif isinstance(event, ErrorOccurred):
                self.metrics.turn_failed()
            if kept != "permanent" and isinstance(event, StateChanged) and event.status in ENDED:
                # The live session is over: with retention none or session, nothing of it stays.
                asyncio.get_running_loop().call_soon(
                    lambda: asyncio.ensure_future(self.on_ended(user_id, conversation_id))
                )

        return publish


def _model(settings: dict[str, Any], key: str) -> ModelId | None:
    value = settings.get(key)
    return parse_model_id(value) if value else None
