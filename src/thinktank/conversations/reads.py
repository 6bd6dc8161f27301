"""What the API and the pages read about conversations: rows, costs, and an engine's state.

They reach conversations only through these (and the facade's operations), never through the
database or the registry: where a conversation is held (here, restored on demand, or by another
process) stays the service's business."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from thinktank.conversations.registry import Registry
from thinktank.engine.engine import ConversationEngine
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.tables import Conversation


class ConversationReads:
    """Read-only views of one user's conversations, each checked to be theirs."""

    def __init__(self, db: Database, *, registry: Registry) -> None:
        self.db = db
        self.registry = registry

    async def engine(self, *, user_id: str, conversation_id: str) -> ConversationEngine:
        """The conversation's engine, to read its state, members, messages and totals; changes go
        through the service's operations so that they reach whichever process holds it."""
        return (await self.registry.live(user_id=user_id, conversation_id=conversation_id)).engine

    async def check_access(self, *, user_id: str, conversation_id: str) -> None:
        """Raises `NotFound` unless the conversation exists and is this user's (before a stream of
        its events is opened)."""
        await self.registry.live(user_id=user_id, conversation_id=conversation_id)

    async def running_here(self, *, user_id: str, conversation_id: str) -> bool:
        """Whether this process is running the conversation in auto mode right now (its runner,
        which writes the memo at the end, has not finished)."""
        return (await self.registry.live(user_id=user_id, conversation_id=conversation_id)).running

    async def run_ended(self, *, user_id: str, conversation_id: str) -> None:
        """Returns once this process's auto run of the conversation has ended (at once without one):
        a command that started a run waits here before it reads the result."""
        live = await self.registry.live(user_id=user_id, conversation_id=conversation_id)
        if live.runner is not None:
            await asyncio.wait({live.runner})

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
