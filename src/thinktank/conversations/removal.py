"""Conversations going away: one deleted, a session's ended at sign-out, an account's all at once,
and one kept only for its session when it ends. Watchers of a deleted conversation get a last event."""

from __future__ import annotations

import asyncio
import contextlib

from thinktank.accounts import retention
from thinktank.accounts.keys import KeyStore
from thinktank.conversations.operations import Delete, Handlers, Target
from thinktank.conversations.ownership import Ownership
from thinktank.conversations.registry import Registry
from thinktank.events.log import CONVERSATION_DELETED, Bus
from thinktank.store import repository as repo
from thinktank.store.db import Database

"""The last event of a deleted conversation's stream."""


class Removal:
    """Deletes conversations and accounts, here and in the database."""

    def __init__(
        self,
        db: Database,
        *,
        registry: Registry,
        ownership: Ownership,
        bus: Bus,
        keystore: KeyStore | None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.ownership = ownership
        self.bus = bus
        self.keystore = keystore

    def register(self, handlers: Handlers) -> None:
        handlers.add(Delete, self.delete)

    async def delete(self, target: Target, op: Delete) -> None:
        live = self.registry.loaded(target.conversation_id)
        async with self.db.session() as session:
            await repo.delete_conversation(
                session, user_id=target.user_id, conversation_id=target.conversation_id
            )
        if live is not None and live.user_id == target.user_id:
            self.registry.drop(target.conversation_id)
        await self._announce_deleted(target.conversation_id)

    async def forget(self, user_id: str, conversation_id: str) -> None:
        """A conversation kept only for its session has ended: once its run is over, it goes."""
        live = self.registry.loaded(conversation_id)
        if live is not None and live.runner is not None and not live.runner.done():
            await asyncio.wait({live.runner})
        with contextlib.suppress(repo.NotFound):
            await self.ownership.run(Target(user_id, conversation_id), Delete())

    async def end_session_conversations(self, *, user_id: str) -> None:
        """Signing out ends the session: with retention "session", its conversations go."""
        async with self.db.session() as session:
            if (await retention.preferences(session, user_id=user_id)).data_retention != "session":
                return
            rows = await repo.all_conversations(session, user_id=user_id)
        for row in rows:
            await self.ownership.run(Target(user_id, row.id), Delete())

    async def delete_account(self, *, user_id: str) -> None:
        for conversation_id, _live in self.registry.owned_by(user_id):
            self.registry.drop(conversation_id)
            await self._announce_deleted(conversation_id)
        async with self.db.session() as session:
            await retention.delete_account(session, user_id=user_id)
            if user_id == repo.LOCAL_USER_ID:
                # Local mode has no sign-up: the one user starts again, empty, at once (every
                # route that writes a row of theirs needs the user row).
                await repo.ensure_local_user(session)
        if self.keystore is not None:
            await self.keystore.forget(user_id)

    async def _announce_deleted(self, conversation_id: str) -> None:
        """Watchers get a last event, after which their streams close (the SSE route ends on it);
        then the conversation's events are forgotten."""
        await self.bus.publish(
            conversation_id, {"type": CONVERSATION_DELETED, "conversation_id": conversation_id}
        )
        await self.bus.forget(conversation_id)
