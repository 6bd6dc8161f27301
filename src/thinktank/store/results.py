"""What runs leave behind besides the transcript: decision memos and batches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.store.tables import BatchRow, MemoRow


def memo_row(*, user_id: str, conversation_id: str, model_id: str, content: dict[str, Any]) -> MemoRow:
    return MemoRow(user_id=user_id, conversation_id=conversation_id, model_id=model_id, content=content)


async def latest_memo(session: AsyncSession, *, user_id: str, conversation_id: str) -> dict[str, Any] | None:
    row = await session.scalar(
        select(MemoRow)
        .where(MemoRow.conversation_id == conversation_id, MemoRow.user_id == user_id)
        .order_by(MemoRow.created_at.desc())
        .limit(1)
    )
    return None if row is None else {**row.content, "created_at": row.created_at.isoformat()}


async def list_batches(session: AsyncSession, *, user_id: str, limit: int = 100) -> list[BatchRow]:
    result = await session.execute(
        select(BatchRow).where(BatchRow.user_id == user_id).order_by(BatchRow.created_at.desc()).limit(limit)
    )
    return list(result.scalars())
