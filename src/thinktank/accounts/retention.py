"""What is kept, and for how long (seed §7 user_preferences), plus export and account deletion.

none       nothing of a conversation outlives its live session: messages are never written, and
           the conversation row goes when it ends (or when the server next starts)
session    stored while it runs, deleted when it ends
permanent  kept until the user deletes it
`delete_after_days` additionally purges conversations older than that, with their messages and
cost records (a job in the server, hourly, and `thinktank purge`). No analytics are collected at
all; `allow_analytics` records the user's choice for when there are any.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

# Defined in the domain; named here too because the retention rules live here.
from thinktank.domain.vocabulary import RETENTIONS as RETENTIONS
from thinktank.domain.vocabulary import Retention as Retention
from thinktank.errors import UserError
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.tables import (
    ApiToken,
    Conversation,
    CostRecord,
    MemoRow,
    MessageRow,
    UsageCounter,
    User,
    UserApiKey,
    UserPersona,
    UserPreferences,
)


async def preferences(session: AsyncSession, *, user_id: str) -> UserPreferences:
    row = await session.get(UserPreferences, user_id)
    if row is None:
        row = UserPreferences(user_id=user_id)
        session.add(row)
        await session.commit()
    return row


async def set_preferences(
    session: AsyncSession,
    *,
    user_id: str,
    data_retention: str,
    delete_after_days: int | None,
    allow_analytics: bool,
) -> UserPreferences:
    if data_retention not in RETENTIONS:
        raise UserError(f"data_retention must be one of {', '.join(RETENTIONS)}")
    if delete_after_days is not None and not 1 <= delete_after_days <= 3650:
        raise UserError("delete_after_days must be from 1 to 3650, or null")
    row = await preferences(session, user_id=user_id)
    row.data_retention, row.delete_after_days, row.allow_analytics = (
        data_retention,
        delete_after_days,
        allow_analytics,
    )
    await session.commit()
    return row


async def purge_expired(
    session: AsyncSession, *, live: Container[str] | None = None, now: datetime | None = None
) -> int:
    """Delete conversations past their owner's delete_after_days; and, when the caller knows which
    conversations are live (`live`, the server), the leftovers of `none`-retention users."""
    moment = now or datetime.now(UTC)
    doomed: list[tuple[str, str]] = []
    rows = await session.execute(
        select(
            Conversation.id,
            Conversation.user_id,
            Conversation.created_at,
            UserPreferences.delete_after_days,
            UserPreferences.data_retention,
        )
        .join(UserPreferences, UserPreferences.user_id == Conversation.user_id)
        .where((UserPreferences.delete_after_days.is_not(None)) | (UserPreferences.data_retention == "none"))
    )
    for conversation_id, user_id, created_at, days, retention in rows.all():
        created = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
        expired = days is not None and created < moment - timedelta(days=days)
        leftover = retention == "none" and live is not None and conversation_id not in live
        if expired or leftover:
            doomed.append((conversation_id, user_id))
    for conversation_id, user_id in doomed:
        await repo.delete_conversation(session, user_id=user_id, conversation_id=conversation_id)
    return len(doomed)


async def export_account(session: AsyncSession, *, user_id: str) -> dict[str, Any]:
    """Everything a user owns, as JSON. Keys appear by provider and last four characters only."""
    user = await session.get(User, user_id)
    if user is None:
        raise repo.NotFound("user", user_id)
    prefs = await preferences(session, user_id=user_id)
    conversations = []
    rows = await repo.all_conversations(session, user_id=user_id)
    for row in rows:
        messages = await repo.load_messages(session, user_id=user_id, conversation_id=row.id)
        totals = await repo.load_totals(session, user_id=user_id, conversation_id=row.id)
        conversations.append(
            {
                "id": row.id,
                "title": row.title,
                "topic": row.topic,
                "mode": row.mode,
                "status": row.status,
                "created_at": row.created_at.isoformat(),
                "members": [
                    p.model_dump(mode="json")
                    for p in await repo.active_members(session, user_id=user_id, conversation_id=row.id)
                ],
                "messages": [m.to_json() for m in messages],
                "totals": totals.to_json(),
            }
        )
    return {
        "schema": "thinktank.account-export",
        "version": 1,
        "user": {"id": user.id, "email": user.email, "display_name": user.display_name, "tier": user.tier},
        "preferences": {
            "data_retention": prefs.data_retention,
            "delete_after_days": prefs.delete_after_days,
            "allow_analytics": prefs.allow_analytics,
        },
        "personas": [
            p.model_dump(mode="json") for p in await repo.list_user_personas(session, user_id=user_id)
        ],
        "api_keys": [
            {"provider": k.provider, "is_valid": k.is_valid}
            for k in await session.scalars(select(UserApiKey).where(UserApiKey.user_id == user_id))
        ],
        "api_tokens": [
            {"name": t.name, "prefix": t.prefix}
            for t in await session.scalars(select(ApiToken).where(ApiToken.user_id == user_id))
        ],
        "conversations": conversations,
    }


async def delete_account(session: AsyncSession, *, user_id: str) -> None:
    """Remove every row the user owns, children first (SQLite cascades only when told to)."""
    rows = await repo.all_conversations(session, user_id=user_id)
    for row in rows:
        await repo.delete_conversation(session, user_id=user_id, conversation_id=row.id)
    for table in (
        MemoRow,
        MessageRow,
        CostRecord,
        UsageCounter,
        UserApiKey,
        ApiToken,
        UserPersona,
        UserPreferences,
    ):
        await session.execute(delete(table).where(table.user_id == user_id))
    await session.execute(delete(User).where(User.id == user_id))
    await session.commit()


class AccountData:
    """A user's preferences and the export of everything they own, for the API and the pages: each
    call opens its own session."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def preferences(self, *, user_id: str) -> UserPreferences:
        async with self._db.session() as session:
            return await preferences(session, user_id=user_id)

    async def set_preferences(
        self, *, user_id: str, data_retention: str, delete_after_days: int | None, allow_analytics: bool
    ) -> UserPreferences:
        async with self._db.session() as session:
            return await set_preferences(
                session,
                user_id=user_id,
                data_retention=data_retention,
                delete_after_days=delete_after_days,
                allow_analytics=allow_analytics,
            )

    async def export(self, *, user_id: str) -> dict[str, Any]:
        async with self._db.session() as session:
            return await export_account(session, user_id=user_id)
