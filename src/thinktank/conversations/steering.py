"""Steering a held conversation: run mode, speed, the next turn, pause, resume, continue, stop,
interjections and the panel's members. Each is an operation's handler (`operations`), so it runs
only where the conversation is held."""

from __future__ import annotations

import asyncio

from thinktank.accounts.plans import Plans
from thinktank.conversations.model_rules import ModelRules
from thinktank.conversations.operations import (
    AddMember,
    ContinueFor,
    Handlers,
    Interject,
    Pause,
    RemoveMember,
    ReplaceMember,
    Resume,
    SetRunMode,
    SetSpeed,
    Stop,
    TakeTurn,
    Target,
)
from thinktank.conversations.registry import Live, Registry
from thinktank.conversations.runs import AutoRuns, refuse_ended
from thinktank.domain import Message, Persona
from thinktank.engine.members import Member, seat
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.writer import run_mode_update


class Steering:
    """The handlers of the operations that steer a conversation."""

    def __init__(
        self, db: Database, *, registry: Registry, runs: AutoRuns, plans: Plans, rules: ModelRules
    ) -> None:
        self.db = db
        self.registry = registry
        self.runs = runs
        self.plans = plans
        self.rules = rules
        self._in_flight: dict[tuple[str, str], asyncio.Future[Message | None]] = {}

    def register(self, handlers: Handlers) -> None:
        handlers.add(TakeTurn, self.take_turn)
        handlers.add(SetRunMode, self.set_run_mode)
        handlers.add(SetSpeed, self.set_speed)
        handlers.add(Pause, self.pause)
        handlers.add(Resume, self.resume)
        handlers.add(ContinueFor, self.continue_for)
        handlers.add(Stop, self.stop)
        handlers.add(Interject, self.interject)
        handlers.add(AddMember, self.add_member)
        handlers.add(ReplaceMember, self.replace_member)
        handlers.add(RemoveMember, self.remove_member)

    async def _live(self, target: Target) -> Live:
        return await self.registry.live(user_id=target.user_id, conversation_id=target.conversation_id)

    # --- turns -------------------------------------------------------------------------------

    async def take_turn(self, target: Target, op: TakeTurn) -> Message | None:
        live = await self._live(target)
        if op.idempotency_key is None:
            return await live.engine.take_turn(speaker=op.speaker)
        flight = (target.conversation_id, op.idempotency_key)
        if flight in self._in_flight:
            return await asyncio.shield(self._in_flight[flight])
        # Claimed before the first await: a second request with this key waits for this one's
        # result instead of starting (and then forgetting) a flight of its own.
        future: asyncio.Future[Message | None] = asyncio.get_running_loop().create_future()
        self._in_flight[flight] = future
        try:
            message = await self._turn_once(live, target=target, speaker=op.speaker, key=op.idempotency_key)
            future.set_result(message)
            return message
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved, so an unawaited failure is not logged as lost
            raise
        finally:
            self._in_flight.pop(flight, None)

    async def _turn_once(
        self, live: Live, *, target: Target, speaker: str | None, key: str
    ) -> Message | None:
        """The turn of an Idempotency-Key: the one taken earlier with it, else a new one, remembered."""
        conversation_id = target.conversation_id
        async with self.db.session() as session:
            earlier = await repo.find_turn(session, conversation_id=conversation_id, key=key)
        if earlier is not None:
            index = earlier.get("message_index")
            return None if index is None else live.engine.messages[index]
        message = await live.engine.take_turn(speaker=speaker)
        async with self.db.session() as session:
            payload = {"message_index": None if message is None else message.index}
            await repo.remember_turn(session, conversation_id=conversation_id, key=key, payload=payload)
        return message

    # --- run mode and pace -------------------------------------------------------------------

    async def set_run_mode(self, target: Target, op: SetRunMode) -> None:
        user_id, conversation_id = target.user_id, target.conversation_id
        scale = self.runs.scale
        if (
            op.mode == "auto"
            and scale is not None
            and not scale.drives_here
            and self.registry.loaded(conversation_id) is None
        ):
            # A web process of a deployment hands auto mode to a worker, which loads the conversation
            # itself; loading it here too only to queue the drive would double the work of a start.
            async with self.db.session() as session:
                row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            refuse_ended(row.status, row.stop_reason)
            await self.db.writer.write(user_id=user_id, updates=[run_mode_update(conversation_id, op.mode)])
            await scale.enqueue_drive(conversation_id, user_id)
            return
        live = await self._live(target)
        # Group-committed: a thousand conversations switched to auto at once is one transaction.
        await self.db.writer.write(user_id=user_id, updates=[run_mode_update(conversation_id, op.mode)])
        if op.mode == "auto":
            await self.runs.start(conversation_id, live)
        else:
            await self.runs.stop(live)

    async def set_speed(self, target: Target, op: SetSpeed) -> None:
        live = await self._live(target)
        live.engine.set_speed(op.speed)
        async with self.db.session() as session:
            row = await repo.get_conversation(
                session, user_id=target.user_id, conversation_id=target.conversation_id
            )
            row.speed = op.speed
            settings = dict(row.settings or {})
            settings["turn_delay"] = None
            row.settings = settings
            await session.commit()

    async def pause(self, target: Target, op: Pause) -> None:
        await (await self._live(target)).engine.pause()

    async def resume(self, target: Target, op: Resume) -> None:
        live = await self._live(target)
        await live.engine.resume()
        async with self.db.session() as session:
            row = await repo.get_conversation(
                session, user_id=target.user_id, conversation_id=target.conversation_id
            )
            run_mode = row.run_mode
        if run_mode == "auto":
            await self.runs.start(target.conversation_id, live)

    async def continue_for(self, target: Target, op: ContinueFor) -> None:
        live = await self._live(target)
        await live.engine.extend(op.messages)
        async with self.db.session() as session:
            row = await repo.get_conversation(
                session, user_id=target.user_id, conversation_id=target.conversation_id
            )
            row.max_messages = live.engine.config.max_messages
            await session.commit()

    async def stop(self, target: Target, op: Stop) -> None:
        await (await self._live(target)).engine.stop()

    async def interject(self, target: Target, op: Interject) -> Message | None:
        return await (await self._live(target)).engine.interject(op.text)

    # --- the panel ---------------------------------------------------------------------------

    async def add_member(self, target: Target, op: AddMember) -> None:
        live = await self._live(target)
        await self.plans.check_panel_size(target.user_id, size=len(live.engine.members) + 1)
        await live.engine.add_member(self._seat(op.persona, live))
        await self._save_members(target, live)

    async def replace_member(self, target: Target, op: ReplaceMember) -> None:
        live = await self._live(target)
        await live.engine.replace_member(self._seat(op.persona, live))
        await self._save_members(target, live)

    async def remove_member(self, target: Target, op: RemoveMember) -> None:
        live = await self._live(target)
        await live.engine.remove_member(op.persona_id)
        await self._save_members(target, live)

    def _seat(self, persona: Persona, live: Live) -> Member:
        """A persona joining a running panel, on the conversation's one model if it has one."""
        if live.override is None:
            self.rules.check_persona(persona)
        return seat(persona, live.factory, override=live.override)

    async def _save_members(self, target: Target, live: Live) -> None:
        async with self.db.session() as session:
            await repo.save_members(
                session,
                user_id=target.user_id,
                conversation_id=target.conversation_id,
                personas=live.engine.personas,
            )
