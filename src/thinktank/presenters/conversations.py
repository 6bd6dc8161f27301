"""Conversations as the API and the pages show them, and the one way both start one."""

from __future__ import annotations

from thinktank.conversations import ConversationService
from thinktank.domain import Persona
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.setup import ConversationSpec
from thinktank.models.ids import parse_model_id
from thinktank.presenters.schemas import ConversationCreate, ConversationPublic, MemberPublic
from thinktank.store.tables import Conversation


def conversation_public(row: Conversation, engine: ConversationEngine | None = None) -> ConversationPublic:
    """The stored row; with its engine, also the live state, the members and what each has cost."""
    public = ConversationPublic(
        id=row.id,
        title=row.title,
        topic=row.topic,
        template_id=row.template_id,
        mode=row.mode,
        scorer=row.scorer,
        seed=row.seed,
        run_mode=row.run_mode,
        speed=row.speed,
        status=engine.status if engine else row.status,
        stop_reason=engine.stop_reason if engine else row.stop_reason,
        max_messages=row.max_messages,
        max_cost=None if row.max_cost is None else str(row.max_cost),
        created_at=row.created_at,
        updated_at=row.updated_at,
        forked_from=row.forked_from_id,
        forked_at=row.forked_at,
    )
    if engine is not None:
        counts: dict[str, int] = {}
        for message in engine.messages:
            counts[message.speaker_id] = counts.get(message.speaker_id, 0) + 1
        totals = engine.totals.to_json()
        public.members = [
            MemberPublic(
                persona_id=m.persona.id,
                name=m.persona.name,
                role=m.persona.role,
                avatar=m.persona.avatar.model_dump(),
                models=[str(x) for x in m.models],
                substituted=m.substituted,
                message_count=counts.get(m.persona.id, 0),
                cost=totals["by_persona"].get(m.persona.id, {"raw_usd": "0", "billed_usd": "0"}),
            )
            for m in engine.members
        ]
        public.totals = totals
    return public


async def conversation_view(
    service: ConversationService, *, user_id: str, conversation_id: str
) -> ConversationPublic:
    """A conversation with its live state (restored from the database if this process had not)."""
    row = await service.conversation(user_id=user_id, conversation_id=conversation_id)
    return conversation_public(row, await service.engine(user_id=user_id, conversation_id=conversation_id))


def spec_of(body: ConversationCreate) -> ConversationSpec:
    return ConversationSpec(
        template_id=body.template_id,
        topic=body.topic,
        persona_ids=body.persona_ids,
        custom_personas=[Persona.model_validate(p.model_dump()) for p in body.personas],
        mode=body.mode,
        scorer=body.scorer,
        scorer_model=parse_model_id(body.scorer_model) if body.scorer_model else None,
        summary_model=parse_model_id(body.summary_model) if body.summary_model else None,
        model_override=parse_model_id(body.model) if body.model else None,
        seed=body.seed,
        speed=body.speed,
        turn_delay=body.turn_delay,
        max_messages=body.max_messages,
        max_cost=body.max_cost,
    )


async def create_conversation(
    service: ConversationService, user_id: str, body: ConversationCreate
) -> ConversationPublic:
    """Create the conversation a body describes (the API's POST and the pages' forms alike)."""
    row, engine = await service.create_viewed(user_id=user_id, spec=spec_of(body), title=body.title)
    return conversation_public(row, engine)
