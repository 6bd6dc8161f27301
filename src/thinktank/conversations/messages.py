"""Pages of a conversation's finished messages, with their costs."""

from __future__ import annotations

from thinktank.conversations.registry import Registry
from thinktank.domain import Message
from thinktank.errors import UserError
from thinktank.store import repository as repo
from thinktank.store.db import Database


class MessagePages:
    """Reads finished messages from the database, or from memory when nothing is stored."""

    def __init__(self, db: Database, *, registry: Registry) -> None:
        self.db = db
        self.registry = registry

    async def messages_page(
        self, *, user_id: str, conversation_id: str, after: int | None, before: int | None, limit: int
    ) -> list[Message]:
        """A page of finished messages with their costs: newer than `after`, or the last `limit`
        older than `before`, or the first `limit`."""
        if after is not None and before is not None:
            raise UserError("use after or before, not both")
        live = await self.registry.live(user_id=user_id, conversation_id=conversation_id)
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
