"""Cost records and what they add up to: a conversation's totals, a user's spending, and the
budget reservations that start-up releases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.domain import Usage
from thinktank.engine.totals import CostTotals
from thinktank.models.ids import parse_model_id
from thinktank.pricing.prices import Cost
from thinktank.store.tables import CostRecord, UsageCounter


def cost_row(
    *,
    conversation_id: str,
    user_id: str,
    account: str,
    model_id: str | None,
    usage: Usage,
    cost: Cost,
    message_id: str | None = None,
) -> CostRecord:
    return CostRecord(
        conversation_id=conversation_id,
        message_id=message_id,
        user_id=user_id,
        account=account,
        provider=None if model_id is None else parse_model_id(model_id).provider,
        model_id=model_id,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        requests=max(usage.requests, 1),
        raw_cost=cost.raw,
        billed_cost=cost.billed,
    )


async def load_totals(session: AsyncSession, *, user_id: str, conversation_id: str) -> CostTotals:
    totals = CostTotals()
    rows = await session.scalars(
        select(CostRecord)
        .where(CostRecord.conversation_id == conversation_id, CostRecord.user_id == user_id)
        .order_by(CostRecord.created_at)
    )
    for row in rows:
        totals.add(
            account=row.account,
            model_id=row.model_id,
            usage=Usage(row.input_tokens, row.output_tokens, row.requests),
            cost=Cost(row.raw_cost, row.billed_cost),
        )
    return totals


@dataclass
class Spending:
    """Everything a user spent, three ways: in all, per UTC day, per conversation."""

    total: CostTotals = field(default_factory=CostTotals)
    by_day: dict[str, CostTotals] = field(default_factory=dict)
    by_conversation: dict[str, CostTotals] = field(default_factory=dict)


async def spending(
    session: AsyncSession, *, user_id: str, conversation_ids: Sequence[str] | None = None
) -> Spending:
    """What I spent; only on these conversations when `conversation_ids` is given."""
    query = select(CostRecord).where(CostRecord.user_id == user_id)
    if conversation_ids is not None:
        query = query.where(CostRecord.conversation_id.in_(list(conversation_ids)))
    rows = await session.scalars(query.order_by(CostRecord.created_at))
    result = Spending()
    for row in rows:
        usage = Usage(row.input_tokens, row.output_tokens, row.requests)
        cost = Cost(row.raw_cost, row.billed_cost)
        for totals in (
            result.total,
            result.by_day.setdefault(row.created_at.date().isoformat(), CostTotals()),
            result.by_conversation.setdefault(row.conversation_id, CostTotals()),
        ):
            totals.add(account=row.account, model_id=row.model_id, usage=usage, cost=cost)
    return result


async def daily_costs(session: AsyncSession, *, user_id: str, days: int) -> list[dict[str, Any]]:
    recent = sorted((await spending(session, user_id=user_id)).by_day.items())[-days:]
    return [
        {"day": day, **totals.total.to_json(), "by_provider": totals.to_json()["by_provider"]}
        for day, totals in recent
    ]


async def release_reservations(session: AsyncSession) -> None:
    """At start-up no turn is in flight, so budget reservations left by a crash are released."""
    await session.execute(update(UsageCounter).values(tokens_reserved=0, billed_reserved=Decimal(0)))
    await session.commit()
