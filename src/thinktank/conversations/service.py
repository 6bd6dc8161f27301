"""`ConversationService`: the one door to conversations that the API, the web pages, the CLI, the
job worker and batches go through. Its parts (`parts.py`) do the work: queries and new
conversations go straight to theirs, and every operation on a conversation goes through
`Ownership.run`, so it runs where the conversation is held (here when this process is alone)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from thinktank.accounts.budget import UsageLedger
from thinktank.accounts.keys import KeyStore
from thinktank.accounts.ratelimit import RateLimiter
from thinktank.accounts.tiers import Tiers, load_tiers
from thinktank.batches import Batches
from thinktank.conversations import operations as ops
from thinktank.conversations.operations import Operation, RunMode, Target
from thinktank.conversations.parts import Needs, assemble
from thinktank.domain import Message, Persona
from thinktank.events.log import Bus
from thinktank.jobs.scale import Scale
from thinktank.library.loader import Library
from thinktank.models.ids import ModelId
from thinktank.models.stack import ModelFactory
from thinktank.ops.metrics import Metrics
from thinktank.ops.profiles import PROFILES, Profile
from thinktank.store.db import Database

R = TypeVar("R")


class ConversationService:
    """Conversations stored, restored, steered and run in auto mode, for one app, worker or command."""

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
        self.db, self.library, self.factory, self.bus, self.keystore = db, library, factory, bus, keystore
        self.scale, self.profile, self.metrics = scale, profile, metrics or Metrics()
        self.tiers, self.ledger = tiers or load_tiers(), UsageLedger(db)
        needs = Needs(
            db=db,
            library=library,
            factory=factory,
            bus=bus,
            keystore=keystore,
            tiers=self.tiers,
            ledger=self.ledger,
            scale=scale,
            metrics=self.metrics,
            profile=profile,
            rate_limiter=rate_limiter,
            local_models=local_models,
        )
        self._parts = parts = assemble(needs)
        self.batches = Batches(self, db=db, library=library, scale=scale)
        # Queries and new conversations: the part's own method is the door's.
        self.start, self.purge = parts.upkeep.start, parts.upkeep.purge
        self.render_metrics = parts.upkeep.render_metrics
        self._live, self.unload_idle = parts.registry.live, parts.registry.unload_idle
        self.drive, self.messages_page = parts.runs.drive, parts.pages.messages_page
        lifecycle = parts.lifecycle
        self.create, self.create_viewed = lifecycle.create, lifecycle.create_viewed
        self.fork, self.fork_tree = lifecycle.fork, lifecycle.fork_tree
        self.rerun, self.compare = lifecycle.rerun, lifecycle.compare
        self.my_personas, self.persona = parts.personas.my_personas, parts.personas.persona
        self.library_with = parts.personas.library_with
        self.tier_of, self.budget_for = parts.plans.tier_of, parts.plans.budget_for
        self.factory_for = parts.user_models.factory_for
        self.check_persona_models, self.memo = parts.rules.check_persona, parts.memos.memo
        self.end_session_conversations = parts.removal.end_session_conversations
        self.delete_account = parts.removal.delete_account
        reads = parts.reads  # the API's and the pages' only way to look at conversations
        self.engine, self.check_access = reads.engine, reads.check_access
        self.running_here, self.run_ended = reads.running_here, reads.run_ended
        self.conversation, self.conversations = reads.conversation, reads.conversations
        self.all_conversations, self.spending = reads.all_conversations, reads.spending
        self.costs, self.daily_costs = reads.costs, reads.daily_costs
        self.my_persona, self.save_persona = parts.personas.my_persona, parts.personas.save_persona
        self.delete_persona = parts.personas.delete_persona

    async def close(self) -> None:
        await self.batches.close()
        self._parts.upkeep.stop()
        self._parts.ownership.stop()
        await self._parts.runs.cancel_all()
        # After the runners: a lease goes only once nothing here writes to its conversation.
        await self._parts.ownership.release_all()
        self._parts.registry.clear()
        await self.ledger.close()

    async def sweep(self) -> int:
        return await self._parts.ownership.sweep(self.db)

    # --- operations: each runs where its conversation is held ----------------------------------

    async def _run(self, target: Target, operation: Operation[R]) -> R:
        return await self._parts.ownership.run(target, operation)

    async def take_turn(
        self, *, user_id: str, conversation_id: str, speaker: str | None, idempotency_key: str | None
    ) -> Message | None:
        return await self._run(Target(user_id, conversation_id), ops.TakeTurn(speaker, idempotency_key))

    async def set_run_mode(self, *, user_id: str, conversation_id: str, mode: RunMode) -> None:
        await self._run(Target(user_id, conversation_id), ops.SetRunMode(mode))

    async def set_speed(self, *, user_id: str, conversation_id: str, speed: int) -> None:
        await self._run(Target(user_id, conversation_id), ops.SetSpeed(speed))

    async def pause(self, *, user_id: str, conversation_id: str) -> None:
        await self._run(Target(user_id, conversation_id), ops.Pause())

    async def resume(self, *, user_id: str, conversation_id: str) -> None:
        await self._run(Target(user_id, conversation_id), ops.Resume())

    async def continue_for(self, *, user_id: str, conversation_id: str, messages: int) -> None:
        await self._run(Target(user_id, conversation_id), ops.ContinueFor(messages))

    async def stop(self, *, user_id: str, conversation_id: str) -> None:
        await self._run(Target(user_id, conversation_id), ops.Stop())

    async def interject(self, *, user_id: str, conversation_id: str, text: str) -> Message | None:
        return await self._run(Target(user_id, conversation_id), ops.Interject(text))

    async def add_member(self, *, user_id: str, conversation_id: str, persona: Persona) -> None:
        await self._run(Target(user_id, conversation_id), ops.AddMember(persona))

    async def replace_member(self, *, user_id: str, conversation_id: str, persona: Persona) -> None:
        await self._run(Target(user_id, conversation_id), ops.ReplaceMember(persona))

    async def remove_member(self, *, user_id: str, conversation_id: str, persona_id: str) -> None:
        await self._run(Target(user_id, conversation_id), ops.RemoveMember(persona_id))

    async def delete(self, *, user_id: str, conversation_id: str) -> None:
        await self._run(Target(user_id, conversation_id), ops.Delete())

    async def write_memo(
        self, *, user_id: str, conversation_id: str, chair: ModelId | None = None
    ) -> dict[str, Any]:
        return await self._run(Target(user_id, conversation_id), ops.WriteMemo(chair))

    async def memo_or_write(self, *, user_id: str, conversation_id: str) -> dict[str, Any]:
        return await self._run(Target(user_id, conversation_id), ops.MemoOrWrite())
