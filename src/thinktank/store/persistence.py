"""The engine's `Persistence` on the database, through the group-committing writer: a finished
message and its cost in one transaction."""

from __future__ import annotations

from thinktank.domain import Message, Usage
from thinktank.engine.config import Persistence
from thinktank.engine.context import Summary
from thinktank.engine.events import Status
from thinktank.pricing.prices import Cost
from thinktank.store.costs import cost_row
from thinktank.store.db import Database
from thinktank.store.messages import message_row
from thinktank.store.tables import new_id
from thinktank.store.writer import state_update


class StorePersistence(Persistence):
    """The engine's Persistence on the database."""

    def __init__(self, db: Database, *, user_id: str, conversation_id: str) -> None:
        self.db = db
        self.user_id = user_id
        self.conversation_id = conversation_id

    async def message_saved(self, message: Message) -> None:
        row = message_row(message, conversation_id=self.conversation_id, user_id=self.user_id)
        row.id = new_id()
        costs = []
        if message.kind == "persona":
            costs.append(
                cost_row(
                    conversation_id=self.conversation_id,
                    user_id=self.user_id,
                    account=message.speaker_id,
                    model_id=message.model_id,
                    usage=message.usage,
                    cost=message.cost,
                    message_id=row.id,
                )
            )
        # With the other turns finishing now, in one transaction: the message and its cost together.
        await self.db.writer.write(user_id=self.user_id, rows=[row, *costs])

    async def charge_saved(self, *, account: str, model_id: str | None, usage: Usage, cost: Cost) -> None:
        row = cost_row(
            conversation_id=self.conversation_id,
            user_id=self.user_id,
            account=account,
            model_id=model_id,
            usage=usage,
            cost=cost,
        )
        await self.db.writer.write(user_id=self.user_id, rows=[row])

    async def state_saved(self, *, status: Status, reason: str, summary: Summary) -> None:
        state = state_update(
            self.conversation_id,
            status=status,
            reason=reason,
            summary=summary.text,
            covers_upto=summary.covers_upto,
        )
        await self.db.writer.write(user_id=self.user_id, updates=[state])
