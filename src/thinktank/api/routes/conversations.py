"""Conversations: create, list, read, delete, export, and their costs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from thinktank.api.deps import CurrentUser, Service
from thinktank.api.schemas import ConversationCreate, ConversationPage, ConversationPublic, MemberPublic
from thinktank.conversations import Live
from thinktank.domain import DiscussionMode, Persona
from thinktank.engine.export import transcript_json, transcript_markdown
from thinktank.engine.setup import ConversationSpec
from thinktank.errors import UnknownIdError
from thinktank.models.ids import parse_model_id
from thinktank.store import repository as repo
from thinktank.store.tables import Conversation

router = APIRouter(tags=["conversations"])


def conversation_public(row: Conversation, live: Live | None = None) -> ConversationPublic:
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
        status=live.engine.status if live else row.status,
        stop_reason=live.engine.stop_reason if live else row.stop_reason,
        max_messages=row.max_messages,
        max_cost=None if row.max_cost is None else str(row.max_cost),
        created_at=row.created_at,
        updated_at=row.updated_at,
        forked_from=row.forked_from_id,
        forked_at=row.forked_at,
    )
    if live is not None:
        engine = live.engine
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


@router.post("/conversations", response_model=ConversationPublic, status_code=201)
async def create_conversation(
    body: ConversationCreate, service: Service, user: CurrentUser
) -> ConversationPublic:
    spec = ConversationSpec(
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
    row = await service.create(user_id=user, spec=spec, title=body.title)
    live = await service.live(user_id=user, conversation_id=row.id)
    return conversation_public(row, live)


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    service: Service,
    user: CurrentUser,
    limit: int = Query(20, ge=1, le=100),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    search: str | None = Query(None, max_length=200, description="Words in the title or topic"),
) -> ConversationPage:
    async with service.db.session() as session:
        rows, next_cursor = await repo.list_conversations(
            session, user_id=user, limit=limit, cursor=cursor, search=search
        )
    return ConversationPage(items=[conversation_public(r) for r in rows], next_cursor=next_cursor)


async def _row_and_live(service: Service, user: str, conversation_id: str) -> tuple[Conversation, Live]:
    async with service.db.session() as session:
        row = await repo.get_conversation(session, user_id=user, conversation_id=conversation_id)
    return row, await service.live(user_id=user, conversation_id=conversation_id)


@router.get("/conversations/{conversation_id}", response_model=ConversationPublic)
async def get_conversation(conversation_id: str, service: Service, user: CurrentUser) -> ConversationPublic:
    row, live = await _row_and_live(service, user, conversation_id)
    return conversation_public(row, live)


@router.delete("/conversations/{conversation_id}", status_code=204)
async def delete_conversation(conversation_id: str, service: Service, user: CurrentUser) -> Response:
    await service.delete(user_id=user, conversation_id=conversation_id)
    return Response(status_code=204)


@router.get(
    "/conversations/{conversation_id}/export",
    response_model=None,
    responses={
        200: {
            "description": "The transcript",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
        }
    },
)
async def export_conversation(
    conversation_id: str,
    service: Service,
    user: CurrentUser,
    format: Literal["json", "markdown"] = Query("json"),
) -> Response:
    """The whole transcript: JSON in the versioned `thinktank.transcript` schema, or Markdown."""
    _, live = await _row_and_live(service, user, conversation_id)
    memo = await service.memo(user_id=user, conversation_id=conversation_id)
    if format == "markdown":
        return PlainTextResponse(transcript_markdown(live.engine, memo=memo), media_type="text/markdown")
    return JSONResponse(transcript_json(live.engine, memo=memo))


class ForkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at_index: int = Field(ge=0, lt=2**31, description="The last shared message")
    persona_ids: list[str] = Field(default_factory=list, max_length=12, description="Default: the same panel")
    mode: DiscussionMode | None = None
    model: str | None = Field(None, description="Run every persona on this model id")
    scorer: Literal["heuristic", "llm"] | None = None
    seed: int | None = Field(None, ge=0, lt=2**31)
    title: str | None = Field(None, max_length=200)


@router.post("/conversations/{conversation_id}/fork", response_model=ConversationPublic, status_code=201)
async def fork_conversation(
    conversation_id: str, body: ForkRequest, service: Service, user: CurrentUser
) -> ConversationPublic:
    """Branch off at a message: the new conversation shares everything up to it, stored once."""
    row = await service.fork(
        user_id=user,
        conversation_id=conversation_id,
        at_index=body.at_index,
        persona_ids=body.persona_ids,
        mode=body.mode,
        model=parse_model_id(body.model) if body.model else None,
        scorer=body.scorer,
        seed=body.seed,
        title=body.title,
    )
    return conversation_public(row, await service.live(user_id=user, conversation_id=row.id))


@router.get("/conversations/{conversation_id}/forks")
async def fork_tree(conversation_id: str, service: Service, user: CurrentUser) -> dict[str, Any]:
    """The family tree this conversation belongs to, from its root."""
    return await service.fork_tree(user_id=user, conversation_id=conversation_id)


class RerunRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"seed": 7}, {"scorer": "llm"}, {"persona_models": {"cfo": "openai:gpt-4.1"}}]
        },
    )
    persona_models: dict[str, str] | None = Field(None, description="persona id -> model id")
    scorer: Literal["heuristic", "llm"] | None = None
    seed: int | None = Field(None, ge=0, lt=2**31)


@router.post("/conversations/{conversation_id}/rerun", response_model=ConversationPublic, status_code=202)
async def rerun_conversation(
    conversation_id: str, body: RerunRequest, service: Service, user: CurrentUser
) -> ConversationPublic:
    """Run the same setup again with exactly one thing changed; it runs in the server to its end."""
    models = {k: parse_model_id(v) for k, v in body.persona_models.items()} if body.persona_models else None
    row = await service.rerun(
        user_id=user,
        conversation_id=conversation_id,
        persona_models=models,
        scorer=body.scorer,
        seed=body.seed,
    )
    return conversation_public(row, await service.live(user_id=user, conversation_id=row.id))


@router.get("/conversations/{first}/compare/{second}")
async def compare_conversations(
    first: str, second: str, service: Service, user: CurrentUser
) -> dict[str, Any]:
    """Two conversations side by side (a rerun and its original): setup, cost and decision memo."""
    return await service.compare(user_id=user, first=first, second=second)


class MemoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chair: str | None = Field(None, description="Model id of the chair; default: the panel's own models")


@router.post("/conversations/{conversation_id}/memo")
async def write_memo(
    conversation_id: str, service: Service, user: CurrentUser, body: MemoRequest | None = None
) -> dict[str, Any]:
    """Have a chair model write the decision memo; every claim cites the messages it comes from."""
    chair = parse_model_id(body.chair) if body and body.chair else None
    return await service.write_memo(user_id=user, conversation_id=conversation_id, chair=chair)


@router.get("/conversations/{conversation_id}/memo")
async def read_memo(conversation_id: str, service: Service, user: CurrentUser) -> dict[str, Any]:
    memo = await service.memo(user_id=user, conversation_id=conversation_id)
    if memo is None:
        raise UnknownIdError("memo", conversation_id)
    return memo


@router.get("/conversations/{conversation_id}/costs")
async def conversation_costs(conversation_id: str, service: Service, user: CurrentUser) -> dict[str, Any]:
    """Tokens and cost by persona (with `orchestrator` and `summaries`), provider and model; raw, billed."""
    async with service.db.session() as session:
        await repo.get_conversation(session, user_id=user, conversation_id=conversation_id)
        totals = await repo.load_totals(session, user_id=user, conversation_id=conversation_id)
    return totals.to_json()


@router.get("/usage")
async def my_usage(service: Service, user: CurrentUser) -> dict[str, Any]:
    """My plan, what I used today and this month, what is left, and cost alerts."""
    budget = await service.budget_for(user)
    return await budget.usage()


@router.get("/costs/daily")
async def daily_costs(
    service: Service, user: CurrentUser, days: int = Query(30, ge=1, le=366)
) -> list[dict[str, Any]]:
    """My spend per day (UTC), most recent `days` days that had any."""
    async with service.db.session() as session:
        return await repo.daily_costs(session, user_id=user, days=days)
