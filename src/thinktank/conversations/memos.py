"""Decision memos: written where the conversation is held (operations `WriteMemo`, `MemoOrWrite`),
read from the live conversation or the database anywhere."""

from __future__ import annotations

from typing import Any

from thinktank.conversations.model_rules import ModelRules
from thinktank.conversations.operations import Handlers, MemoOrWrite, Target, WriteMemo
from thinktank.conversations.registry import Registry
from thinktank.outcomes.memo import memo_for_conversation
from thinktank.store import repository as repo
from thinktank.store.db import Database


class Memos:
    """Writes and reads the decision memo of a conversation."""

    def __init__(self, db: Database, *, registry: Registry, rules: ModelRules) -> None:
        self.db = db
        self.registry = registry
        self.rules = rules

    def register(self, handlers: Handlers) -> None:
        handlers.add(WriteMemo, self.write)
        handlers.add(MemoOrWrite, self.memo_or_write)

    async def write(self, target: Target, op: WriteMemo) -> dict[str, Any]:
        """The decision memo, from the chosen chair, else the panel's own models, else the scripted
        chair; stored with the conversation and booked like any other cost."""
        self.rules.check([op.chair])
        user_id, conversation_id = target.user_id, target.conversation_id
        live = await self.registry.live(user_id=user_id, conversation_id=conversation_id)
        result = await memo_for_conversation(live.engine, live.factory, chair=op.chair)
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
        """The memo written last, if any."""
        live = await self.registry.live(user_id=user_id, conversation_id=conversation_id)
        if live.memo is not None:
            return live.memo
        async with self.db.session() as session:
            return await repo.latest_memo(session, user_id=user_id, conversation_id=conversation_id)

    async def memo_or_write(self, target: Target, op: MemoOrWrite) -> dict[str, Any]:
        live = await self.registry.live(user_id=target.user_id, conversation_id=target.conversation_id)
        # One writer at a time: the end of a run and a comparison may both ask at once.
        async with live.memo_lock:
            memo = await self.memo(user_id=target.user_id, conversation_id=target.conversation_id)
            if memo is None:
                # Already where the conversation is held, so the memo is written here.
                memo = await self.write(target, WriteMemo())
            return memo
