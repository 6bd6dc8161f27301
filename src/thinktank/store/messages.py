"""A conversation's messages: rows to and from `Message`, the transcript (a fork's shared prefix
included), pages of it, and the cache of idempotent turns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.domain import Message, TurnDecision, Usage
from thinktank.pricing.prices import Cost
from thinktank.store.conversations import in_lineage, lineage
from thinktank.store.tables import ConversationSession, CostRecord, MessageRow


def message_row(message: Message, *, conversation_id: str, user_id: str) -> MessageRow:
    return MessageRow(
        conversation_id=conversation_id,
        user_id=user_id,
        idx=message.index,
        kind=message.kind,
        speaker_id=message.speaker_id,
        speaker_name=message.speaker_name,
        speaker_role=message.speaker_role,
        text=message.text,
        model_id=message.model_id,
        input_tokens=message.usage.input_tokens,
        output_tokens=message.usage.output_tokens,
        latency_s=message.latency_s,
        time_to_first_token_s=message.time_to_first_token_s,
        decision=None if message.decision is None else message.decision.to_json(),
        incomplete=message.incomplete,
        error=message.error,
        usage_estimated=message.usage_estimated,
        created_at=message.created_at,
    )


def message_from_row(row: MessageRow) -> Message:
    decision = TurnDecision.from_json(row.decision) if row.decision else None
    return Message(
        index=row.idx,
        kind=row.kind,  # type: ignore[arg-type]
        speaker_id=row.speaker_id,
        speaker_name=row.speaker_name,
        speaker_role=row.speaker_role,
        text=row.text,
        created_at=row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC),
        model_id=row.model_id,
        usage=Usage(row.input_tokens, row.output_tokens, 1 if row.kind == "persona" else 0),
        latency_s=row.latency_s,
        time_to_first_token_s=row.time_to_first_token_s,
        decision=decision,
        incomplete=row.incomplete,
        error=row.error,
        usage_estimated=row.usage_estimated,
    )


async def load_messages(session: AsyncSession, *, user_id: str, conversation_id: str) -> list[Message]:
    """The whole transcript, a fork's shared prefix included (read from where it is stored)."""
    segments = await lineage(session, user_id=user_id, conversation_id=conversation_id)
    rows = list(
        await session.scalars(
            select(MessageRow)
            .where(in_lineage(segments), MessageRow.user_id == user_id)
            .order_by(MessageRow.idx)
        )
    )
    costs = await message_costs(session, message_ids=[row.id for row in rows])
    messages = []
    for row in rows:
        message = message_from_row(row)
        record = costs.get(row.id)
        if record is not None:
            message = with_cost(message, record)
        messages.append(message)
    return messages


def with_cost(message: Message, record: CostRecord) -> Message:
    return replace(message, cost=Cost(record.raw_cost, record.billed_cost))


async def page_messages(
    session: AsyncSession,
    *,
    user_id: str,
    conversation_id: str,
    after: int | None,
    before: int | None,
    limit: int,
) -> list[MessageRow]:
    segments = await lineage(session, user_id=user_id, conversation_id=conversation_id)
    query = select(MessageRow).where(in_lineage(segments), MessageRow.user_id == user_id)
    if before is not None:
        rows = await session.scalars(
            query.where(MessageRow.idx < before).order_by(MessageRow.idx.desc()).limit(limit)
        )
        return list(reversed(list(rows)))
    if after is not None:
        query = query.where(MessageRow.idx > after)
    return list(await session.scalars(query.order_by(MessageRow.idx).limit(limit)))


async def message_costs(session: AsyncSession, *, message_ids: Sequence[str]) -> dict[str, CostRecord]:
    if not message_ids:
        return {}
    rows = await session.scalars(select(CostRecord).where(CostRecord.message_id.in_(list(message_ids))))
    return {row.message_id: row for row in rows if row.message_id is not None}


async def count_messages(session: AsyncSession, *, conversation_id: str) -> int:
    """Messages the personas wrote in a conversation (the topic and interjections not counted)."""
    result = await session.execute(
        select(func.count())
        .select_from(MessageRow)
        .where(MessageRow.conversation_id == conversation_id, MessageRow.kind == "persona")
    )
    return int(result.scalar_one())


async def find_turn(session: AsyncSession, *, conversation_id: str, key: str) -> dict[str, Any] | None:
    row = await session.scalar(
        select(ConversationSession).where(ConversationSession.cache_key == f"turn:{conversation_id}:{key}")
    )
    return None if row is None else row.payload


async def remember_turn(
    session: AsyncSession, *, conversation_id: str, key: str, payload: dict[str, Any]
) -> None:
    session.add(
        ConversationSession(
            conversation_id=conversation_id,
            cache_key=f"turn:{conversation_id}:{key}",
            cache_type="turn",
            payload=payload,
            ttl_seconds=24 * 3600,
        )
    )
    await session.commit()
