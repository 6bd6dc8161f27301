"""Conversations that live on the server: stored, restored, steered, and run in auto mode.

One `ConversationService` per app. It keeps the engines of conversations in use in memory,
restores any other from the database on demand, and runs auto mode as one asyncio task per
conversation, so closing a browser tab changes nothing. Exactly one runner per conversation:
starting auto mode twice is a no-op, and only one turn is ever in flight (the engine's guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from thinktank.accounts import retention
from thinktank.accounts.budget import UsageLedger, UserBudget
from thinktank.accounts.keys import KeyStore
from thinktank.accounts.ratelimit import RateLimiter
from thinktank.accounts.tiers import Tier, Tiers, load_tiers
from thinktank.batches import Batches
from thinktank.domain import DiscussionMode, Message, Persona
from thinktank.domain.vocabulary import ENDED
from thinktank.engine.context import ContextWindow, Summary
from thinktank.engine.engine import ConversationEngine, EngineConfig, Persistence
from thinktank.engine.events import ErrorOccurred, Event, EventSink, MessageCompleted, StateChanged
from thinktank.engine.members import Member, seat
from thinktank.engine.setup import ConversationSpec, ScorerName, build_scorer, resolve_personas
from thinktank.errors import ConversationBusy, ServiceUnavailable, UnknownIdError, UserError
from thinktank.events.log import Bus
from thinktank.jobs import wire
from thinktank.jobs.commands import NotHolder, Request
from thinktank.jobs.scale import QUEUE_NAME, Scale
from thinktank.library.loader import Library
from thinktank.models.ids import ModelId, parse_model_id
from thinktank.models.stack import ModelFactory
from thinktank.ops.metrics import Metrics
from thinktank.ops.profiles import PROFILES, Profile, refuse_scripted, refuse_server_paths
from thinktank.orchestration.orchestrator import TurnOrchestrator
from thinktank.outcomes.memo import memo_for_conversation
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.persistence import StorePersistence
from thinktank.store.scope import scoped, system_scope
from thinktank.store.tables import Conversation
from thinktank.store.writer import run_mode_update

log = logging.getLogger(__name__)
PURGE_INTERVAL_SECONDS = 3600.0
FORWARD_PATIENCE_SECONDS = 15.0
"""How long a request waits for a conversation's holder to answer or its lease to expire."""
FORWARD_TIMEOUT_SECONDS = 300
"""A forwarded turn may take as long as a slow model."""
DRIVE_ACQUIRE_SECONDS = 10.0

RunMode = Literal["auto", "manual"]
DELETED_EVENT = "conversation.deleted"
"""The last event of a deleted conversation's stream."""
IDLE_UNLOAD_SECONDS = 600.0
"""A conversation nobody used for this long leaves memory (it is restored from the database)."""


@dataclass
class Live:
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


class ConversationService:
    def __init__(
        self,
        *,
        db: Database,
        library: Library,
        factory: ModelFactory,
        bus: Bus,
        keystore: KeyStore | None = None,
        tiers: Tiers | None = None,
        scale: Scale | None = None,
        metrics: Metrics | None = None,
        profile: Profile = PROFILES["development"],
        rate_limiter: RateLimiter | None = None,
        local_models: Sequence[ModelId] | None = None,
    ) -> None:
        self.rate_limiter = rate_limiter
        self.local_models = local_models
        """None: any `local:` path (one user, on their own machine); else only these local models."""
        self.ledger = UsageLedger(db)
        self.db = db
        self.profile = profile
        self.metrics = metrics or Metrics()
        self.scale = scale
        """None: this process alone serves every conversation (the embedded default)."""
        self._holds: dict[str, int] = {}
        self._driving: set[str] = set()
        self.batches = Batches(self, db=db, library=library, scale=scale)
        self._renewer: asyncio.Task[None] | None = None
        self.library = library
        self.factory = factory
        self.bus = bus
        self.keystore = keystore
        self.tiers = tiers or load_tiers()
        self._live: dict[str, Live] = {}
        self._loading = asyncio.Lock()
        self._in_flight: dict[tuple[str, str], asyncio.Future[Message | None]] = {}
        self._purger: asyncio.Task[None] | None = None
        self._unloader: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # --- lifecycle ---------------------------------------------------------------------------

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
            if self.scale is None:
                # Alone, nothing can be running at start-up. With other processes, their turns are
                # real: workers take over what a dead process drove (see `sweep`).
                paused = await repo.pause_running(session)
                await repo.release_reservations(session)
            await retention.purge_expired(session, live=())
        if paused:
            log.warning(
                "%d conversation(s) were running when the server stopped; they are now paused", paused
            )
        self._purger = asyncio.create_task(self._purge_periodically(), name="retention purge")
        self._unloader = asyncio.create_task(self._unload_periodically(), name="idle unload")
        if self.scale is not None:
            await self.scale.commands.serve(self._answer_forwarded)
            self._renewer = asyncio.create_task(self._renew_leases(), name="lease renewal")

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
            self.unload_idle()

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
            and (live.runner is None or live.runner.done())
            and not live.engine.busy
            and not live.memo_lock.locked()
            and live.retention != "none"
        ]
        for conversation_id in idle:
            del self._live[conversation_id]
        return len(idle)

    async def purge(self) -> int:
        """Apply every user's retention now (the server does this hourly by itself)."""
        with system_scope():
            async with self.db.session() as session:
                return await retention.purge_expired(session, live=set(self._live))

    async def close(self) -> None:
        await self.batches.close()
        for task in (self._purger, self._renewer, self._unloader):
            if task is not None:
                task.cancel()
        runners = [live.runner for live in self._live.values() if live.runner and not live.runner.done()]
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        if self.scale is not None:
            # Let go at once, so another worker takes over now rather than when the leases expire.
            for conversation_id in list(self._holds):
                with contextlib.suppress(RedisError):
                    await self.scale.leases.release(conversation_id)
            self._holds.clear()
        self._live.clear()
        await self.ledger.close()

    async def render_metrics(self) -> bytes:
        scale = self.scale

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
            live_conversations=len(self._live),
            queue_depth=queue_depth,
        )

    # --- sharing conversations between processes ---------------------------------------------

    async def _held(self, op: str, user_id: str, conversation_id: str, **arguments: Any) -> Any:
        """Run `op` where the conversation is held: here when alone; with other processes, here if
        this process holds (or can take) its lease, else on the holder, by request."""
        here = getattr(self, f"_{op}_here")
        scale = self.scale
        if scale is None or conversation_id in self._holds:
            return await here(user_id=user_id, conversation_id=conversation_id, **arguments)
        deadline = asyncio.get_running_loop().time() + FORWARD_PATIENCE_SECONDS
        while True:
            if conversation_id in self._holds or await scale.leases.acquire(conversation_id):
                async with self._holding(conversation_id):
                    return await here(user_id=user_id, conversation_id=conversation_id, **arguments)
            holder = await scale.leases.holder(conversation_id)
            if holder is not None:
                request = Request(op, user_id, conversation_id, wire.encode(arguments))
                try:
                    return wire.decode(
                        await scale.commands.call(holder, request, wait_seconds=FORWARD_TIMEOUT_SECONDS)
                    )
                except NotHolder:
                    pass
            if asyncio.get_running_loop().time() > deadline:
                raise ServiceUnavailable(
                    "the process running this conversation does not answer; try again in a few seconds"
                )
            await asyncio.sleep(0.1)

    async def _answer_forwarded(self, request: Request) -> Any:
        if request.conversation_id not in self._holds:
            raise NotHolder(request.conversation_id)
        async with self._holding(request.conversation_id):
            with scoped(request.user_id):
                here = getattr(self, f"_{request.op}_here")
                result = await here(
                    user_id=request.user_id,
                    conversation_id=request.conversation_id,
                    **wire.decode(request.arguments),
                )
            return wire.encode(result)

    @contextlib.asynccontextmanager
    async def _holding(self, conversation_id: str) -> AsyncIterator[None]:
        """One use of a conversation whose lease this process holds; the last use lets it go."""
        self._holds[conversation_id] = self._holds.get(conversation_id, 0) + 1
        try:
            yield
        finally:
            await self._unhold(conversation_id)

    async def _unhold(self, conversation_id: str) -> None:
        """One use less; at none, and with no auto run here, the conversation is let go."""
        count = self._holds.get(conversation_id, 0) - 1
        live = self._live.get(conversation_id)
        if count > 0 or (live is not None and live.runner is not None and not live.runner.done()):
            self._holds[conversation_id] = max(count, 0)
            return
        self._holds.pop(conversation_id, None)
        self._live.pop(conversation_id, None)
        if self.scale is not None:
            with contextlib.suppress(RedisError):
                await self.scale.leases.release(conversation_id)

    def _let_go_now(self, conversation_id: str) -> None:
        """The lease is lost: forget the conversation here without writing anything of it."""
        self._holds.pop(conversation_id, None)
        live = self._live.pop(conversation_id, None)
        if live is not None and live.runner is not None and live.runner is not asyncio.current_task():
            live.runner.cancel()

    async def _renew_leases(self) -> None:
        scale = self.scale
        assert scale is not None
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        while True:
            await asyncio.sleep(scale.leases.ttl / 3)
            held = list(self._holds)
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
                if not still and conversation_id in self._holds:
                    log.warning(
                        "lost the lease of conversation %s; another process may take it", conversation_id
                    )
                    self._let_go_now(conversation_id)

    async def drive(self, *, user_id: str, conversation_id: str) -> str:
        """A job worker runs a conversation's auto mode while it holds its lease (arq's job)."""
        scale = self.scale
        assert scale is not None
        deadline = asyncio.get_running_loop().time() + DRIVE_ACQUIRE_SECONDS
        # The web process that queued this job may still hold the lease for a moment.
        while conversation_id not in self._holds and not await scale.leases.acquire(conversation_id):
            if asyncio.get_running_loop().time() > deadline:
                return "held elsewhere"
            await asyncio.sleep(0.05)
        if conversation_id in self._driving:
            return "already running here"
        # Claimed before the first await, so a second drive of the same conversation stops above.
        self._driving.add(conversation_id)
        async with self._holding(conversation_id):
            try:
                return await self._drive_held(user_id, conversation_id, scale)
            finally:
                self._driving.discard(conversation_id)  # before the lease is let go

    async def _drive_held(self, user_id: str, conversation_id: str, scale: Scale) -> str:
        """The drive, once this process holds the lease and counts it as a use."""
        await scale.drive_started(conversation_id)
        async with self.db.session() as session:
            row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            run_mode, status = row.run_mode, row.status
        if run_mode != "auto" or status not in ("idle", "running"):
            return f"not in auto mode ({run_mode}, {status})"
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        if live.runner is not None and not live.runner.done():
            return "already running here"
        if status == "running":
            # Its last holder died mid-run: what it streamed of an unfinished turn is void.
            await self.bus.publish(
                conversation_id, {"type": "sync.required", "reason": "taken over by another worker"}
            )
        live.runner = asyncio.create_task(self._run(conversation_id, live), name=f"auto:{conversation_id}")
        await asyncio.wait({live.runner})
        return live.engine.status

    async def sweep(self) -> int:
        """Queue a drive for every conversation in auto mode that no process holds (its worker
        died, or Redis lost the queue); the drive job itself makes sure only one runs it."""
        scale = self.scale
        assert scale is not None
        with system_scope():
            async with self.db.session() as session:
                waiting = await repo.auto_conversations(session)
        owners = dict(waiting)
        candidates = [c for c in owners if c not in self._holds]
        queued = 0
        for conversation_id in await scale.unattended(candidates):
            queued += await scale.enqueue_drive(conversation_id, owners[conversation_id])
        return queued

    # --- creation and lookup -----------------------------------------------------------------

    async def create(self, *, user_id: str, spec: ConversationSpec, title: str | None = None) -> Conversation:
        mine = await self.my_personas(user_id)
        topic, mode, panel, messages = resolve_personas(spec, self.library_with(mine))
        self._check_panel_size(await self.tier_of(user_id), len(panel))
        chosen = [spec.model_override, spec.scorer_model, spec.summary_model]
        self._check_models(chosen if spec.model_override else [*chosen, *self._models_of(panel)])
        if spec.model_override is None:
            for persona in panel:
                self.check_persona_models(persona)
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
        settings = {
            "scorer_model": None if spec.scorer_model is None else str(spec.scorer_model),
            "summary_model": None if spec.summary_model is None else str(spec.summary_model),
            "model_override": None if spec.model_override is None else str(spec.model_override),
            "context_budget_tokens": spec.context_budget_tokens,
            "reply_tokens": spec.reply_tokens,
            "turn_delay": spec.turn_delay,
        }
        async with self.db.session() as session:
            row = Conversation(
                user_id=user_id,
                title=(title or topic)[:200],
                topic=topic,
                template_id=spec.template_id,
                mode=mode,
                scorer=spec.scorer,
                settings=settings,
                seed=seed,
                speed=spec.speed,
                max_messages=messages,
                max_cost=spec.max_cost,
            )
            session.add(row)
            await session.commit()
            await repo.save_members(session, user_id=user_id, conversation_id=row.id, personas=panel)
            await repo.count_template_use(
                session, template_id=spec.template_id, persona_ids=[p.id for p in panel]
            )
            await session.commit()
        live = await self.live(user_id=user_id, conversation_id=row.id)
        await self._store_topic(live)
        return row

    @staticmethod
    async def _store_topic(live: Live) -> None:
        """A new conversation's first message is its topic, from the user; a fork inherits its own."""
        await live.engine.persistence.message_saved(live.engine.messages[0])

    async def my_personas(self, user_id: str) -> list[Persona]:
        async with self.db.session() as session:
            return await repo.list_user_personas(session, user_id=user_id)

    def library_with(self, mine: Sequence[Persona]) -> Library:
        if not mine:
            return self.library
        personas = {**self.library.personas, **{p.id: p for p in mine}}
        return Library(personas=personas, templates=self.library.templates)

    async def persona(self, *, user_id: str, persona_id: str) -> Persona:
        """A persona of the user's own or of the library (the user's wins on the same id)."""
        return self.library_with(await self.my_personas(user_id)).persona(persona_id)

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
        if self.scale is not None and conversation_id not in self._holds:
            return await self._restore(user_id=user_id, conversation_id=conversation_id, snapshot=True)
        async with self._loading:
            live = self._live.get(conversation_id)
            if live is None:
                live = await self._restore(user_id=user_id, conversation_id=conversation_id)
                self._live[conversation_id] = live
        if live.user_id != user_id:
            raise repo.NotFound("conversation", conversation_id)
        return live

    async def messages_page(
        self, *, user_id: str, conversation_id: str, after: int | None, before: int | None, limit: int
    ) -> list[Message]:
        """A page of finished messages with their costs: newer than `after`, or the last `limit`
        older than `before`, or the first `limit`."""
        if after is not None and before is not None:
            raise UserError("use after or before, not both")
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        if live.retention == "none":
            # Nothing is stored for this user: the live session is the only copy.
            kept = [
                m
                for m in live.engine.messages
                if (after is None or m.index > after) and (before is None or m.index < before)
            ]
            return kept[-limit:] if before is not None else kept[:limit]
        async with self.db.session() as session:
            rows = await repo.page_messages(
                session,
                user_id=user_id,
                conversation_id=conversation_id,
                after=after,
                before=before,
                limit=limit,
            )
            costs = await repo.message_costs(session, message_ids=[r.id for r in rows])
        messages = []
        for row in rows:
            message = repo.message_from_row(row)
            record = costs.get(row.id)
            messages.append(message if record is None else repo.with_cost(message, record))
        return messages

    async def tier_of(self, user_id: str) -> Tier:
        async with self.db.session() as session:
            if user_id == repo.LOCAL_USER_ID:
                await repo.ensure_local_user(session)  # it comes back after "delete my account"
            return self.tiers[await repo.user_tier(session, user_id=user_id)]

    async def budget_for(self, user_id: str) -> UserBudget:
        return UserBudget(
            self.db,
            user_id=user_id,
            tier=await self.tier_of(user_id),
            limiter=self.rate_limiter,
            ledger=self.ledger,
        )

    def _check_models(self, models: Iterable[ModelId | None]) -> None:
        models = list(models)
        refuse_scripted(models, profile=self.profile)
        if self.local_models is not None:
            refuse_server_paths(models, offered=self.local_models)

    def check_persona_models(self, persona: Persona) -> None:
        """A persona a user saves names only models this server lets users choose."""
        self._check_models([persona.model_id, *persona.fallback_ids])

    @staticmethod
    def _models_of(personas: Iterable[Persona]) -> list[ModelId]:
        """The model each persona speaks through first (its fallbacks only stand in for it)."""
        return [p.model_id for p in personas]

    @staticmethod
    def _check_panel_size(tier: Tier, size: int) -> None:
        if tier.concurrent_personas is not None and size > tier.concurrent_personas:
            allowed = tier.concurrent_personas
            raise UserError(f"your {tier.name} plan allows {allowed} personas in a conversation, not {size}")

    async def factory_for(self, user_id: str, *, touch: bool = True) -> ModelFactory:
        """Models for this user's personas: their own keys, else the platform's, else the server's."""
        keystore = self.keystore
        if keystore is None:
            return self.factory

        async def rejected(model_id: ModelId) -> None:
            if await keystore.owns_key(user_id=user_id, provider=model_id.provider):
                log.warning(
                    "a stored %s key was rejected by the provider; it is now marked invalid",
                    model_id.provider,
                )
                await keystore.mark_invalid(user_id=user_id, provider=model_id.provider)

        keys = await keystore.keys_for(user_id=user_id)
        if touch:  # last used: when a conversation last started with them (not when it was looked at)
            await keystore.touch_all(user_id=user_id)
        return self.factory.with_keys(keys, on_rejected_key=rejected)

    async def _restore(self, *, user_id: str, conversation_id: str, snapshot: bool = False) -> Live:
        async with self.db.session() as session:
            row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            kept = (await retention.preferences(session, user_id=user_id)).data_retention
            personas = await repo.active_members(session, user_id=user_id, conversation_id=conversation_id)
            history = await repo.load_messages(session, user_id=user_id, conversation_id=conversation_id)
            totals = await repo.load_totals(session, user_id=user_id, conversation_id=conversation_id)
        settings: dict[str, Any] = row.settings or {}
        override = parse_model_id(settings["model_override"]) if settings.get("model_override") else None
        factory = await self.factory_for(user_id, touch=not snapshot)
        members = [seat(p, factory, override=override) for p in personas]
        spec = ConversationSpec(
            scorer=row.scorer,  # type: ignore[arg-type]
            scorer_model=parse_model_id(settings["scorer_model"]) if settings.get("scorer_model") else None,
        )
        context = ContextWindow(budget_tokens=int(settings.get("context_budget_tokens") or 1200))
        context.summary = Summary(row.summary, row.summary_covers_upto)
        summarizer = None
        if settings.get("summary_model"):
            model_id = parse_model_id(settings["summary_model"])
            summarizer = Member(personas[0], (model_id,), factory.build(model_id))
        config = EngineConfig(
            topic=row.topic,
            mode=row.mode,  # type: ignore[arg-type]
            seed=row.seed,
            speed=row.speed,
            turn_delay=settings.get("turn_delay"),
            max_messages=row.max_messages,
            max_cost=row.max_cost,
            reply_tokens=int(settings.get("reply_tokens") or 300),
        )
        engine = ConversationEngine(
            config,
            members=members,
            orchestrator=TurnOrchestrator(build_scorer(spec, factory, members), seed=row.seed),
            pricer=self.factory.pricer,
            context=context,
            sink=self._sink(conversation_id, user_id, kept),
            # Retention "none": the conversation lives in memory only, nothing of it is written.
            persistence=Persistence()
            if kept == "none"
            else StorePersistence(self.db, user_id=user_id, conversation_id=conversation_id),
            clock=self.factory.clock,
            summarizer=summarizer,
            history=history,
            totals=totals,
            budget=await self.budget_for(user_id),
        )
        # A snapshot shows what the holder is doing; a conversation loaded to be run is not running yet.
        running = row.status == "running" and not snapshot
        engine.status = "idle" if running else row.status  # type: ignore[assignment]
        engine.stop_reason = row.stop_reason
        return Live(engine=engine, user_id=user_id, factory=factory, retention=kept, override=override)

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
                    lambda: asyncio.ensure_future(
                        self._forget(user_id=user_id, conversation_id=conversation_id)
                    )
                )

        return publish

    async def _forget(self, *, user_id: str, conversation_id: str) -> None:
        live = self._live.get(conversation_id)
        if live is not None and live.runner is not None and not live.runner.done():
            await asyncio.wait({live.runner})
        with contextlib.suppress(repo.NotFound):
            await self.delete(user_id=user_id, conversation_id=conversation_id)

    async def fork(
        self,
        *,
        user_id: str,
        conversation_id: str,
        at_index: int,
        persona_ids: Sequence[str] = (),
        mode: DiscussionMode | None = None,
        model: ModelId | None = None,
        scorer: ScorerName | None = None,
        seed: int | None = None,
        title: str | None = None,
    ) -> Conversation:
        """A new conversation that shares this one's transcript up to `at_index` (stored once, read
        from here) and then goes its own way: other personas, another mode, model, scorer or seed."""
        parent_live = await self.live(user_id=user_id, conversation_id=conversation_id)
        if parent_live.retention == "none":
            raise UserError("with retention 'none' nothing is stored, so there is nothing to fork from")
        last = len(parent_live.engine.messages) - 1
        if not 0 <= at_index <= last:
            raise UserError(f"at_index must be a message of this conversation: 0 to {last}")
        if persona_ids:
            mine = self.library_with(await self.my_personas(user_id))
            panel = [mine.persona(pid) for pid in dict.fromkeys(persona_ids)]
        else:
            panel = list(parent_live.engine.personas)
        self._check_panel_size(await self.tier_of(user_id), len(panel))
        self._check_models([model] if model is not None else self._models_of(panel))
        async with self.db.session() as session:
            parent = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            settings = dict(parent.settings or {})
            if model is not None:
                settings["model_override"] = str(model)
            row = Conversation(
                user_id=user_id,
                title=(title or f"{parent.title} (fork at #{at_index})")[:200],
                topic=parent.topic,
                template_id=parent.template_id,
                mode=mode or parent.mode,
                scorer=scorer or parent.scorer,
                settings=settings,
                seed=parent.seed if seed is None else seed,
                speed=parent.speed,
                max_messages=parent.max_messages,
                max_cost=parent.max_cost,
                forked_from_id=parent.id,
                forked_at=at_index,
            )
            session.add(row)
            await session.commit()
            await repo.save_members(session, user_id=user_id, conversation_id=row.id, personas=panel)
        return row

    async def fork_tree(self, *, user_id: str, conversation_id: str) -> dict[str, Any]:
        """The whole family of a conversation, from its root: id, title, fork point, children."""
        async with self.db.session() as session:
            root_id = (await repo.lineage(session, user_id=user_id, conversation_id=conversation_id))[0][0]

            async def node(row: Conversation) -> dict[str, Any]:
                children = await repo.forks_of(session, user_id=user_id, conversation_id=row.id)
                return {
                    "id": row.id,
                    "title": row.title,
                    "forked_at": row.forked_at,
                    "children": [await node(child) for child in children],
                }

            return await node(await repo.get_conversation(session, user_id=user_id, conversation_id=root_id))

    async def rerun(
        self,
        *,
        user_id: str,
        conversation_id: str,
        persona_models: Mapping[str, ModelId] | None = None,
        scorer: ScorerName | None = None,
        seed: int | None = None,
    ) -> Conversation:
        """The same setup again with exactly one thing changed (a persona's model, the scorer or the
        seed), run to its end in the server; compare the two with `compare`."""
        changes = [persona_models is not None, scorer is not None, seed is not None]
        if sum(changes) != 1:
            raise UserError("a rerun changes exactly one thing: persona_models, scorer or seed")
        self._check_models((persona_models or {}).values())
        original = await self.live(user_id=user_id, conversation_id=conversation_id)
        panel = list(original.engine.personas)
        if persona_models and original.override is not None:
            # Everyone keeps the model they ran on; only the named personas change.
            panel = [p.model_copy(update={"model": str(original.override), "fallbacks": []}) for p in panel]
        if persona_models:
            ids = {p.id for p in panel}
            for persona_id in persona_models:
                if persona_id not in ids:
                    raise UnknownIdError("member", persona_id, suggestions=sorted(ids))
            panel = [
                p.model_copy(update={"model": str(persona_models[p.id]), "fallbacks": []})
                if p.id in persona_models
                else p
                for p in panel
            ]
        async with self.db.session() as session:
            source = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            settings = dict(source.settings or {})
            if persona_models:
                settings["model_override"] = None
            settings["turn_delay"] = 0.0
            settings["rerun_of"] = source.id
            change = (
                f"models: {', '.join(f'{k}={v}' for k, v in persona_models.items())}"
                if persona_models
                else f"scorer: {scorer}"
                if scorer
                else f"seed: {seed}"
            )
            settings["rerun_change"] = change
            if scorer == "llm":
                settings.setdefault("scorer_model", None)
            row = Conversation(
                user_id=user_id,
                title=f"{source.title} (rerun, {change})"[:200],
                topic=source.topic,
                template_id=source.template_id,
                mode=source.mode,
                scorer=scorer or source.scorer,
                settings=settings,
                seed=source.seed if seed is None else seed,
                speed=source.speed,
                max_messages=source.max_messages,
                max_cost=source.max_cost,
                # A fork's rerun is a fork at the same point: it shares the same start, not a new one.
                forked_from_id=source.forked_from_id,
                forked_at=source.forked_at,
            )
            session.add(row)
            await session.commit()
            await repo.save_members(session, user_id=user_id, conversation_id=row.id, personas=panel)
        live = await self.live(user_id=user_id, conversation_id=row.id)
        if row.forked_from_id is None:
            await self._store_topic(live)
        await self.set_run_mode(user_id=user_id, conversation_id=row.id, mode="auto")
        return row

    async def compare(self, *, user_id: str, first: str, second: str) -> dict[str, Any]:
        """Two conversations side by side: setup, cost and decision memo (written if missing)."""
        sides = {}
        for key, conversation_id in (("first", first), ("second", second)):
            live = await self.live(user_id=user_id, conversation_id=conversation_id)
            ended = live.engine.status in ENDED
            running_here = live.runner is not None and not live.runner.done()
            if (running_here or live.engine.status == "running") and not ended:
                raise ConversationBusy("a conversation being compared is still running; compare when it ends")
            memo = await self.memo_or_write(user_id=user_id, conversation_id=conversation_id)
            async with self.db.session() as session:
                row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            engine = live.engine
            sides[key] = {
                "id": conversation_id,
                "title": row.title,
                "change": (row.settings or {}).get("rerun_change"),
                "scorer": row.scorer,
                "seed": row.seed,
                "models": {m.persona.id: [str(x) for x in m.models] for m in engine.members},
                "messages": engine.persona_message_count(),
                "totals": engine.totals.to_json()["total"],
                "memo": memo,
            }
        return sides

    async def write_memo(
        self, *, user_id: str, conversation_id: str, chair: ModelId | None = None
    ) -> dict[str, Any]:
        return await self._held("write_memo", user_id, conversation_id, chair=chair)  # type: ignore[no-any-return]

    async def _write_memo_here(
        self, *, user_id: str, conversation_id: str, chair: ModelId | None = None
    ) -> dict[str, Any]:
        """The decision memo, from the chosen chair, else the panel's own models, else the scripted
        chair; stored with the conversation and booked like any other cost."""
        self._check_models([chair])
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        result = await memo_for_conversation(live.engine, live.factory, chair=chair)
        if live.retention != "none":
            row = repo.memo_row(
                user_id=user_id,
                conversation_id=conversation_id,
                model_id=result.model_id,
                content=result.to_json(),
            )
            await self.db.writer.write(user_id=user_id, rows=[row])
        live.memo = result.to_json()
        return live.memo

    async def memo(self, *, user_id: str, conversation_id: str) -> dict[str, Any] | None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        if live.memo is not None:
            return live.memo
        async with self.db.session() as session:
            return await repo.latest_memo(session, user_id=user_id, conversation_id=conversation_id)

    async def end_session_conversations(self, *, user_id: str) -> None:
        """Signing out ends the session: with retention "session", its conversations go."""
        async with self.db.session() as session:
            if (await retention.preferences(session, user_id=user_id)).data_retention != "session":
                return
            rows = await repo.all_conversations(session, user_id=user_id)
        for row in rows:
            await self.delete(user_id=user_id, conversation_id=row.id)

    async def delete_account(self, *, user_id: str) -> None:
        for conversation_id, live in list(self._live.items()):
            if live.user_id == user_id:
                if live.runner is not None:
                    live.runner.cancel()
                self._live.pop(conversation_id, None)
                await self._announce_deleted(conversation_id)
        async with self.db.session() as session:
            await retention.delete_account(session, user_id=user_id)
            if user_id == repo.LOCAL_USER_ID:
                # Local mode has no sign-up: the one user starts again, empty, at once (every
                # route that writes a row of theirs needs the user row).
                await repo.ensure_local_user(session)
        if self.keystore is not None:
            await self.keystore.forget(user_id)

    # --- steering ----------------------------------------------------------------------------

    async def take_turn(
        self, *, user_id: str, conversation_id: str, speaker: str | None, idempotency_key: str | None
    ) -> Message | None:
        return await self._held(  # type: ignore[no-any-return]
            "take_turn", user_id, conversation_id, speaker=speaker, idempotency_key=idempotency_key
        )

    async def _take_turn_here(
        self, *, user_id: str, conversation_id: str, speaker: str | None, idempotency_key: str | None
    ) -> Message | None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        if idempotency_key is None:
            return await live.engine.take_turn(speaker=speaker)
        flight = (conversation_id, idempotency_key)
        if flight in self._in_flight:
            return await asyncio.shield(self._in_flight[flight])
        # Claimed before the first await: a second request with this key waits for this one's
        # result instead of starting (and then forgetting) a flight of its own.
        future: asyncio.Future[Message | None] = asyncio.get_running_loop().create_future()
        self._in_flight[flight] = future
        try:
            message = await self._turn_once(live, conversation_id, speaker, idempotency_key)
            future.set_result(message)
            return message
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved, so an unawaited failure is not logged as lost
            raise
        finally:
            self._in_flight.pop(flight, None)

    async def _turn_once(
        self, live: Live, conversation_id: str, speaker: str | None, idempotency_key: str
    ) -> Message | None:
        """The turn of an Idempotency-Key: the one taken earlier with it, else a new one, remembered."""
        async with self.db.session() as session:
            earlier = await repo.find_turn(session, conversation_id=conversation_id, key=idempotency_key)
        if earlier is not None:
            index = earlier.get("message_index")
            return None if index is None else live.engine.messages[index]
        message = await live.engine.take_turn(speaker=speaker)
        async with self.db.session() as session:
            payload = {"message_index": None if message is None else message.index}
            await repo.remember_turn(
                session, conversation_id=conversation_id, key=idempotency_key, payload=payload
            )
        return message

    async def set_run_mode(self, *, user_id: str, conversation_id: str, mode: RunMode) -> None:
        return await self._held("set_run_mode", user_id, conversation_id, mode=mode)  # type: ignore[no-any-return]

    async def _set_run_mode_here(self, *, user_id: str, conversation_id: str, mode: RunMode) -> None:
        scale = self.scale
        if (
            mode == "auto"
            and scale is not None
            and not scale.drives_here
            and conversation_id not in self._live
        ):
            # A web process of a deployment hands auto mode to a worker, which loads the conversation
            # itself; loading it here too only to queue the drive would double the work of a start.
            async with self.db.session() as session:
                row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            _refuse_ended(row.status, row.stop_reason)
            await self.db.writer.write(user_id=user_id, updates=[run_mode_update(conversation_id, mode)])
            await scale.enqueue_drive(conversation_id, user_id)
            return
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        # Group-committed: a thousand conversations switched to auto at once is one transaction.
        await self.db.writer.write(user_id=user_id, updates=[run_mode_update(conversation_id, mode)])
        if mode == "auto":
            await self._start_runner(conversation_id, live)
        else:
            await self._stop_runner(live)

    async def _start_runner(self, conversation_id: str, live: Live) -> None:
        # Ended first: a run that has just finished may still be writing its memo.
        _refuse_ended(live.engine.status, live.engine.stop_reason)
        if live.runner is not None and not live.runner.done():
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
            self._let_go_now(conversation_id)
            return
        except Exception:
            log.exception("auto mode of conversation %s failed", conversation_id)
            await live.engine.pause()
            return
        if live.engine.status == "finished":
            await self._memo_at_the_end(conversation_id, live)

    async def memo_or_write(self, *, user_id: str, conversation_id: str) -> dict[str, Any]:
        return await self._held("memo_or_write", user_id, conversation_id)  # type: ignore[no-any-return]

    async def _memo_or_write_here(self, *, user_id: str, conversation_id: str) -> dict[str, Any]:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        async with live.memo_lock:
            memo = await self.memo(user_id=user_id, conversation_id=conversation_id)
            if memo is None:
                memo = await self.write_memo(user_id=user_id, conversation_id=conversation_id)
            return memo

    async def _memo_at_the_end(self, conversation_id: str, live: Live) -> None:
        """A discussion that ran to its end gets its decision memo; one that fails to be written
        is logged and can be asked for again, and the transcript is untouched either way."""
        try:
            await self.memo_or_write(user_id=live.user_id, conversation_id=conversation_id)
        except Exception:
            log.exception("the memo of conversation %s could not be written", conversation_id)

    async def _stop_runner(self, live: Live) -> None:
        """Leave auto mode; a turn already in flight finishes first."""
        await live.engine.leave_auto()
        if live.runner is not None and not live.runner.done():
            await asyncio.wait({live.runner})

    async def set_speed(self, *, user_id: str, conversation_id: str, speed: int) -> None:
        return await self._held("set_speed", user_id, conversation_id, speed=speed)  # type: ignore[no-any-return]

    async def _set_speed_here(self, *, user_id: str, conversation_id: str, speed: int) -> None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        live.engine.set_speed(speed)
        async with self.db.session() as session:
            row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            row.speed = speed
            settings = dict(row.settings or {})
            settings["turn_delay"] = None
            row.settings = settings
            await session.commit()

    async def pause(self, *, user_id: str, conversation_id: str) -> None:
        return await self._held("pause", user_id, conversation_id)  # type: ignore[no-any-return]

    async def _pause_here(self, *, user_id: str, conversation_id: str) -> None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        await live.engine.pause()

    async def resume(self, *, user_id: str, conversation_id: str) -> None:
        return await self._held("resume", user_id, conversation_id)  # type: ignore[no-any-return]

    async def _resume_here(self, *, user_id: str, conversation_id: str) -> None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        await live.engine.resume()
        async with self.db.session() as session:
            row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            run_mode = row.run_mode
        if run_mode == "auto":
            await self._start_runner(conversation_id, live)

    async def continue_for(self, *, user_id: str, conversation_id: str, messages: int) -> None:
        return await self._held("continue_for", user_id, conversation_id, messages=messages)  # type: ignore[no-any-return]

    async def _continue_for_here(self, *, user_id: str, conversation_id: str, messages: int) -> None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        await live.engine.extend(messages)
        async with self.db.session() as session:
            row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            row.max_messages = live.engine.config.max_messages
            await session.commit()

    async def stop(self, *, user_id: str, conversation_id: str) -> None:
        return await self._held("stop", user_id, conversation_id)  # type: ignore[no-any-return]

    async def _stop_here(self, *, user_id: str, conversation_id: str) -> None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        await live.engine.stop()

    async def interject(self, *, user_id: str, conversation_id: str, text: str) -> Message | None:
        return await self._held("interject", user_id, conversation_id, text=text)  # type: ignore[no-any-return]

    async def _interject_here(self, *, user_id: str, conversation_id: str, text: str) -> Message | None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        return await live.engine.interject(text)

    async def add_member(self, *, user_id: str, conversation_id: str, persona: Persona) -> None:
        return await self._held("add_member", user_id, conversation_id, persona=persona)  # type: ignore[no-any-return]

    async def _add_member_here(self, *, user_id: str, conversation_id: str, persona: Persona) -> None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        self._check_panel_size(await self.tier_of(user_id), len(live.engine.members) + 1)
        await live.engine.add_member(self._seat(persona, live))
        await self._save_members(user_id, conversation_id, live)

    async def replace_member(self, *, user_id: str, conversation_id: str, persona: Persona) -> None:
        return await self._held("replace_member", user_id, conversation_id, persona=persona)  # type: ignore[no-any-return]

    async def _replace_member_here(self, *, user_id: str, conversation_id: str, persona: Persona) -> None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        await live.engine.replace_member(self._seat(persona, live))
        await self._save_members(user_id, conversation_id, live)

    async def remove_member(self, *, user_id: str, conversation_id: str, persona_id: str) -> None:
        return await self._held("remove_member", user_id, conversation_id, persona_id=persona_id)  # type: ignore[no-any-return]

    async def _remove_member_here(self, *, user_id: str, conversation_id: str, persona_id: str) -> None:
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        await live.engine.remove_member(persona_id)
        await self._save_members(user_id, conversation_id, live)

    def _seat(self, persona: Persona, live: Live) -> Member:
        """A persona joining a running panel, on the conversation's one model if it has one."""
        if live.override is None:
            self.check_persona_models(persona)
        return seat(persona, live.factory, override=live.override)

    async def _save_members(self, user_id: str, conversation_id: str, live: Live) -> None:
        async with self.db.session() as session:
            await repo.save_members(
                session, user_id=user_id, conversation_id=conversation_id, personas=live.engine.personas
            )

    async def delete(self, *, user_id: str, conversation_id: str) -> None:
        return await self._held("delete", user_id, conversation_id)  # type: ignore[no-any-return]

    async def _delete_here(self, *, user_id: str, conversation_id: str) -> None:
        live = self._live.get(conversation_id)
        async with self.db.session() as session:
            await repo.delete_conversation(session, user_id=user_id, conversation_id=conversation_id)
        if live is not None and live.user_id == user_id:
            if live.runner is not None:
                live.runner.cancel()
            self._live.pop(conversation_id, None)
        await self._announce_deleted(conversation_id)

    async def _announce_deleted(self, conversation_id: str) -> None:
        """Watchers get a last event, after which their streams close (the SSE route ends on it);
        then the conversation's events are forgotten."""
        await self.bus.publish(conversation_id, {"type": DELETED_EVENT, "conversation_id": conversation_id})
        await self.bus.forget(conversation_id)

    # --- Reads for the edge (API and pages) ---
    # The API and the pages reach conversations only through these (and the methods above), never
    # through the database or the table of live conversations: where a conversation is held (here,
    # restored on demand, or by another process) stays this service's business.

    async def engine(self, *, user_id: str, conversation_id: str) -> ConversationEngine:
        """The conversation's engine, to read its state, members, messages and totals; changes go
        through this service's methods so that they reach whichever process holds it."""
        return (await self.live(user_id=user_id, conversation_id=conversation_id)).engine

    async def check_access(self, *, user_id: str, conversation_id: str) -> None:
        """Raises `NotFound` unless the conversation exists and is this user's (before a stream of
        its events is opened)."""
        await self.live(user_id=user_id, conversation_id=conversation_id)

    async def running_here(self, *, user_id: str, conversation_id: str) -> bool:
        """Whether this process is running the conversation in auto mode right now (its runner,
        which writes the memo at the end, has not finished)."""
        live = await self.live(user_id=user_id, conversation_id=conversation_id)
        return live.runner is not None and not live.runner.done()

    async def conversation(self, *, user_id: str, conversation_id: str) -> Conversation:
        """The stored row: title, settings, fork point, run mode (`NotFound` if not this user's)."""
        async with self.db.session() as session:
            return await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)

    async def conversations(
        self, *, user_id: str, limit: int, cursor: str | None, search: str | None
    ) -> tuple[list[Conversation], str | None]:
        """A page of my conversations, newest first, and the cursor of the next page."""
        async with self.db.session() as session:
            return await repo.list_conversations(
                session, user_id=user_id, limit=limit, cursor=cursor, search=search
            )

    async def all_conversations(self, *, user_id: str) -> list[Conversation]:
        async with self.db.session() as session:
            return await repo.all_conversations(session, user_id=user_id)

    async def spending(self, *, user_id: str, conversation_ids: Sequence[str] | None = None) -> repo.Spending:
        """What I spent, by day and conversation; only on these conversations when they are given."""
        async with self.db.session() as session:
            return await repo.spending(session, user_id=user_id, conversation_ids=conversation_ids)

    async def costs(self, *, user_id: str, conversation_id: str) -> dict[str, Any]:
        """A conversation's stored costs as `CostTotals.to_json()` (`NotFound` first if it is not
        this user's)."""
        async with self.db.session() as session:
            await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            totals = await repo.load_totals(session, user_id=user_id, conversation_id=conversation_id)
        return totals.to_json()

    async def daily_costs(self, *, user_id: str, days: int) -> list[dict[str, Any]]:
        async with self.db.session() as session:
            return await repo.daily_costs(session, user_id=user_id, days=days)

    async def my_persona(self, *, user_id: str, persona_id: str) -> Persona:
        """One of my own personas (`NotFound` for a library one: those are not mine to edit)."""
        async with self.db.session() as session:
            row = await repo.get_user_persona(session, user_id=user_id, slug=persona_id)
        return Persona.model_validate(row.data)

    async def save_persona(self, *, user_id: str, persona: Persona, create: bool) -> None:
        """Store one of my personas: `create` refuses an id I already use, else it must exist."""
        async with self.db.session() as session:
            await repo.save_user_persona(session, user_id=user_id, persona=persona, create=create)

    async def delete_persona(self, *, user_id: str, persona_id: str) -> None:
        async with self.db.session() as session:
            await repo.delete_user_persona(session, user_id=user_id, slug=persona_id)


def _refuse_ended(status: str, reason: str) -> None:
    """Auto mode cannot start on a conversation that was stopped or ran to its end."""
    if status in ENDED:
        raise UserError(f"this conversation has ended ({reason})")
