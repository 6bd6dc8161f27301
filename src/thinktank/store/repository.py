"""Queries, all scoped by `user_id` and all keyword-only past the session.

Every function that reads a user's row filters by the user, so a row of another user is "not
found", exactly like a row that does not exist.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.domain import Message, Persona, TurnDecision, Usage
from thinktank.engine.totals import CostTotals
from thinktank.errors import UnknownIdError, UserError
from thinktank.library.loader import Library
from thinktank.models.ids import parse_model_id
from thinktank.pricing.estimate import estimate_conversation_cost
from thinktank.pricing.prices import Cost, Pricer
from thinktank.store.tables import (
    BatchRow,
    Conversation,
    ConversationMember,
    ConversationSession,
    ConversationTemplateRow,
    CostRecord,
    MemoRow,
    MessageRow,
    PersonaTemplate,
    UsageCounter,
    User,
    UserPersona,
    UserPreferences,
)

LOCAL_USER_ID = "00000000-0000-0000-0000-000000000001"


class NotFound(UnknownIdError):
    pass


async def ensure_local_user(session: AsyncSession) -> str:
    if await session.get(User, LOCAL_USER_ID) is None:
        # The person running ThinkTank on their own machine: their own keys, no plan limits.
        session.add(User(id=LOCAL_USER_ID, display_name="You", tier="local"))
        session.add(UserPreferences(user_id=LOCAL_USER_ID))
        await session.commit()
    return LOCAL_USER_ID


async def sync_library(session: AsyncSession, *, library: Library, pricer: Pricer) -> None:
    """Make the library tables match the package data, keeping usage counts and ratings."""
    existing = {row.id: row for row in (await session.scalars(select(PersonaTemplate))).all()}
    for persona in library.personas.values():
        data = persona.model_dump(mode="json")
        row = existing.pop(persona.id, None) or PersonaTemplate(id=persona.id)
        row.category, row.name, row.description = persona.category, persona.name, persona.description
        row.system_prompt, row.default_model = persona.system_prompt, persona.model
        row.expertise_areas, row.data = list(persona.expertise), data
        session.add(row)
    for stale in existing.values():
        await session.delete(stale)
    templates = {row.id: row for row in (await session.scalars(select(ConversationTemplateRow))).all()}
    for template in library.templates.values():
        cost = estimate_conversation_cost(
            library.template_personas(template),
            template.estimated_messages,
            pricer=pricer,
            topic=template.initial_prompt,
        )
        row_t = templates.pop(template.id, None) or ConversationTemplateRow(id=template.id)
        row_t.category, row_t.industry, row_t.name = template.category, template.industry, template.name
        row_t.description, row_t.personas = template.description, list(template.personas)
        row_t.initial_prompt, row_t.conversation_mode = template.initial_prompt, template.mode
        row_t.estimated_messages = template.estimated_messages
        row_t.estimated_cost = None if cost.billed is None else cost.billed.quantize(Decimal("0.0001"))
        row_t.data = template.model_dump(mode="json")
        session.add(row_t)
    for stale_t in templates.values():
        await session.delete(stale_t)
    await session.commit()


async def count_template_use(
    session: AsyncSession, *, template_id: str | None, persona_ids: Sequence[str]
) -> None:
    if template_id is not None:
        await session.execute(
            update(ConversationTemplateRow)
            .where(ConversationTemplateRow.id == template_id)
            .values(usage_count=ConversationTemplateRow.usage_count + 1)
        )
    # One row at a time, in id order: conversations started at the same moment that share personas
    # then lock those rows in the same order, and PostgreSQL never has to abort one of them to break
    # a deadlock (an UPDATE ... IN visits rows in whatever order they lie on disk).
    for persona_id in sorted(set(persona_ids)):
        await session.execute(
            update(PersonaTemplate)
            .where(PersonaTemplate.id == persona_id)
            .values(usage_count=PersonaTemplate.usage_count + 1)
        )


async def user_tier(session: AsyncSession, *, user_id: str) -> str:
    tier = await session.scalar(select(User.tier).where(User.id == user_id))
    if tier is None:
        raise NotFound("user", user_id)
    return tier


# --- personas of a user ----------------------------------------------------------------------


async def list_user_personas(session: AsyncSession, *, user_id: str) -> list[Persona]:
    rows = await session.scalars(
        select(UserPersona).where(UserPersona.user_id == user_id).order_by(UserPersona.slug)
    )
    return [Persona.model_validate(row.data) for row in rows]


async def get_user_persona(session: AsyncSession, *, user_id: str, slug: str) -> UserPersona:
    row = await session.scalar(
        select(UserPersona).where(UserPersona.user_id == user_id, UserPersona.slug == slug)
    )
    if row is None:
        raise NotFound("persona", slug)
    return row


async def save_user_persona(session: AsyncSession, *, user_id: str, persona: Persona, create: bool) -> None:
    row = await session.scalar(
        select(UserPersona).where(UserPersona.user_id == user_id, UserPersona.slug == persona.id)
    )
    if create and row is not None:
        raise UserError(f"you already have a persona with id {persona.id!r}")
    if not create and row is None:
        raise NotFound("persona", persona.id)
    row = row or UserPersona(user_id=user_id, slug=persona.id)
    row.category, row.name, row.data = persona.category, persona.name, persona.model_dump(mode="json")
    session.add(row)
    await session.commit()


async def delete_user_persona(session: AsyncSession, *, user_id: str, slug: str) -> None:
    row = await get_user_persona(session, user_id=user_id, slug=slug)
    await session.delete(row)
    await session.commit()


# --- conversations ---------------------------------------------------------------------------


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


def _in_lineage(segments: Sequence[tuple[str, int | None]]) -> Any:
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


# --- messages and costs ----------------------------------------------------------------------


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
            .where(_in_lineage(segments), MessageRow.user_id == user_id)
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
    query = select(MessageRow).where(_in_lineage(segments), MessageRow.user_id == user_id)
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


# --- idempotent turns ------------------------------------------------------------------------


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


async def release_reservations(session: AsyncSession) -> None:
    """At start-up no turn is in flight, so budget reservations left by a crash are released."""
    await session.execute(update(UsageCounter).values(tokens_reserved=0, billed_reserved=Decimal(0)))
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


async def list_batches(session: AsyncSession, *, user_id: str, limit: int = 100) -> list[BatchRow]:
    result = await session.execute(
        select(BatchRow).where(BatchRow.user_id == user_id).order_by(BatchRow.created_at.desc()).limit(limit)
    )
    return list(result.scalars())


async def count_messages(session: AsyncSession, *, conversation_id: str) -> int:
    """Messages the personas wrote in a conversation (the topic and interjections not counted)."""
    result = await session.execute(
        select(func.count())
        .select_from(MessageRow)
        .where(MessageRow.conversation_id == conversation_id, MessageRow.kind == "persona")
    )
    return int(result.scalar_one())
