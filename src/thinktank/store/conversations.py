"""Conversations of a user: one, a page of them, their lineage and forks, their panel, deleting
them, and what start-up finds of them after a restart."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.domain import Persona
from thinktank.errors import UserError
from thinktank.store.tables import (
    Conversation,
    ConversationMember,
    ConversationSession,
    CostRecord,
    MemoRow,
    MessageRow,
)
from thinktank.store.users import NotFound


async def get_conversation(session: AsyncSession, *, user_id: str, conversation_id: str) -> Conversation:
    row = await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    )
    if row is None:
        raise NotFound("conversation", conversation_id)
    return row


def _encode_cursor(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at.isoformat(), row_id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(stamp), str(row_id)
    except (ValueError, TypeError) as exc:
        raise UserError("invalid cursor") from exc


async def list_conversations(
    session: AsyncSession, *, user_id: str, limit: int, cursor: str | None, search: str | None
) -> tuple[list[Conversation], str | None]:
    query: Select[Conversation] = select(Conversation).where(Conversation.user_id == user_id)
    if search:
        # The words as typed: % and _ are letters here, not wildcards.
        escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                func.lower(Conversation.title).like(pattern, escape="\\"),
                func.lower(Conversation.topic).like(pattern, escape="\\"),
            )
        )
    if cursor:
        stamp, row_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                Conversation.created_at < stamp,
                and_(Conversation.created_at == stamp, Conversation.id < row_id),
            )
        )
    rows = list(
        await session.scalars(
            query.order_by(Conversation.created_at.desc(), Conversation.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return rows, next_cursor


async def lineage(
    session: AsyncSession, *, user_id: str, conversation_id: str
) -> list[tuple[str, int | None]]:
    """Where a conversation's messages live: (conversation id, last index taken from it), root
    first; the last entry is the conversation itself (all of its own messages)."""
    segments: list[tuple[str, int | None]] = [(conversation_id, None)]
    row = await get_conversation(session, user_id=user_id, conversation_id=conversation_id)
    while row.forked_from_id is not None:
        segments.insert(0, (row.forked_from_id, row.forked_at))
        row = await get_conversation(session, user_id=user_id, conversation_id=row.forked_from_id)
    return segments


def in_lineage(segments: Sequence[tuple[str, int | None]]) -> Any:
    """A WHERE clause for the messages of a lineage (see `lineage`)."""
    return or_(
        *[
            MessageRow.conversation_id == cid
            if cap is None
            else and_(MessageRow.conversation_id == cid, MessageRow.idx <= cap)
            for cid, cap in segments
        ]
    )


async def forks_of(session: AsyncSession, *, user_id: str, conversation_id: str) -> list[Conversation]:
    rows = await session.scalars(
        select(Conversation)
        .where(Conversation.forked_from_id == conversation_id, Conversation.user_id == user_id)
        .order_by(Conversation.created_at)
    )
    return list(rows)


async def all_conversations(session: AsyncSession, *, user_id: str) -> list[Conversation]:
    """Every conversation of a user, newest first (exports, account deletion, sign-out)."""
    rows = await session.scalars(
        select(Conversation)
        .where(Conversation.user_id == user_id)
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
    )
    return list(rows)


async def delete_conversation(session: AsyncSession, *, user_id: str, conversation_id: str) -> None:
    """Delete a conversation with its messages, costs and memos, and its forks (which read its messages)."""
    await get_conversation(session, user_id=user_id, conversation_id=conversation_id)
    for fork in await forks_of(session, user_id=user_id, conversation_id=conversation_id):
        await delete_conversation(session, user_id=user_id, conversation_id=fork.id)
    # Children first: SQLite enforces cascades only on its own connection settings.
    for table in (MemoRow, ConversationSession, CostRecord, MessageRow, ConversationMember):
        await session.execute(delete(table).where(table.conversation_id == conversation_id))
    await session.execute(
        delete(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    )
    await session.commit()


async def active_members(session: AsyncSession, *, user_id: str, conversation_id: str) -> list[Persona]:
    rows = await session.scalars(
        select(ConversationMember)
        .where(
            ConversationMember.conversation_id == conversation_id,
            ConversationMember.user_id == user_id,
            ConversationMember.active.is_(True),
        )
        .order_by(ConversationMember.position)
    )
    return [Persona.model_validate(row.persona) for row in rows]


async def save_members(
    session: AsyncSession, *, user_id: str, conversation_id: str, personas: Sequence[Persona]
) -> None:
    """Record the current panel; members who left stay in the table, inactive."""
    rows = {
        row.persona_id: row
        for row in await session.scalars(
            select(ConversationMember).where(
                ConversationMember.conversation_id == conversation_id, ConversationMember.user_id == user_id
            )
        )
    }
    current = {p.id for p in personas}
    for position, persona in enumerate(personas):
        row = rows.get(persona.id) or ConversationMember(
            conversation_id=conversation_id, user_id=user_id, persona_id=persona.id
        )
        row.persona, row.position, row.active = persona.model_dump(mode="json"), position, True
        session.add(row)
    for persona_id, row in rows.items():
        if persona_id not in current:
            row.active = False
    await session.commit()


async def pause_running(session: AsyncSession) -> int:
    """After a restart nothing is running: say so instead of claiming to run."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.status == "running")
        .values(status="paused", stop_reason="paused because the server restarted")
    )
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


async def auto_conversations(session: AsyncSession) -> list[tuple[str, str]]:
    """(id, user id) of every conversation in auto mode that has not paused or ended."""
    result = await session.execute(
        select(Conversation.id, Conversation.user_id).where(
            Conversation.run_mode == "auto", Conversation.status.in_(("idle", "running"))
        )
    )
    return [(row[0], row[1]) for row in result.all()]
