"""Conversations: create, list, read, delete, export, and their costs."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from thinktank.domain import DiscussionMode
from thinktank.engine.export import transcript_json, transcript_markdown
from thinktank.errors import UnknownIdError
from thinktank.models.ids import parse_model_id
from thinktank.presenters.conversations import conversation_public, conversation_view
from thinktank.presenters.conversations import create_conversation as create
from thinktank.presenters.deps import CurrentUser, Service
from thinktank.presenters.outcomes import (
    Comparison,
    DailyCost,
    ForkNode,
    MemoPublic,
    TotalsPublic,
    UsagePublic,
)
from thinktank.presenters.schemas import ConversationCreate, ConversationPage, ConversationPublic

router = APIRouter(tags=["conversations"])


@router.post("/conversations", response_model=ConversationPublic, status_code=201)
async def create_conversation(
    body: ConversationCreate, service: Service, user: CurrentUser
) -> ConversationPublic:
    return await create(service, user, body)


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    service: Service,
    user: CurrentUser,
    limit: int = Query(20, ge=1, le=100),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    search: str | None = Query(None, max_length=200, description="Words in the title or topic"),
) -> ConversationPage:
    rows, next_cursor = await service.conversations(user_id=user, limit=limit, cursor=cursor, search=search)
    return ConversationPage(items=[conversation_public(r) for r in rows], next_cursor=next_cursor)


@router.get("/conversations/{conversation_id}", response_model=ConversationPublic)
async def get_conversation(conversation_id: str, service: Service, user: CurrentUser) -> ConversationPublic:
    return await conversation_view(service, user_id=user, conversation_id=conversation_id)


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
    await service.conversation(user_id=user, conversation_id=conversation_id)
    engine = await service.engine(user_id=user, conversation_id=conversation_id)
    memo = await service.memo(user_id=user, conversation_id=conversation_id)
    if format == "markdown":
        return PlainTextResponse(transcript_markdown(engine, memo=memo), media_type="text/markdown")
    return JSONResponse(transcript_json(engine, memo=memo))


class ForkRequest(BaseModel):
    """A branch from one message: the panel, mode and models it continues with."""

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
    return conversation_public(row, await service.engine(user_id=user, conversation_id=row.id))


@router.get("/conversations/{conversation_id}/forks", response_model=ForkNode)
async def fork_tree(conversation_id: str, service: Service, user: CurrentUser) -> ForkNode:
    """The family tree this conversation belongs to, from its root."""
    return ForkNode.model_validate(await service.fork_tree(user_id=user, conversation_id=conversation_id))


class RerunRequest(BaseModel):
    """Run the conversation again with exactly one change."""

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
    return conversation_public(row, await service.engine(user_id=user, conversation_id=row.id))


@router.get("/conversations/{first}/compare/{second}", response_model=Comparison)
async def compare_conversations(first: str, second: str, service: Service, user: CurrentUser) -> Comparison:
    """Two conversations side by side (a rerun and its original): setup, cost and decision memo."""
    return Comparison.model_validate(await service.compare(user_id=user, first=first, second=second))


class MemoRequest(BaseModel):
    """Who chairs the decision memo."""

    model_config = ConfigDict(extra="forbid")
    chair: str | None = Field(None, description="Model id of the chair; default: the panel's own models")


@router.post("/conversations/{conversation_id}/memo", response_model=MemoPublic)
async def write_memo(
    conversation_id: str, service: Service, user: CurrentUser, body: MemoRequest | None = None
) -> MemoPublic:
    """Have a chair model write the decision memo; every claim cites the messages it comes from."""
    chair = parse_model_id(body.chair) if body and body.chair else None
    memo = await service.write_memo(user_id=user, conversation_id=conversation_id, chair=chair)
    return MemoPublic.model_validate(memo)


@router.get("/conversations/{conversation_id}/memo", response_model=MemoPublic)
async def read_memo(conversation_id: str, service: Service, user: CurrentUser) -> MemoPublic:
    memo = await service.memo(user_id=user, conversation_id=conversation_id)
    if memo is None:
        raise UnknownIdError("memo", conversation_id)
    return MemoPublic.model_validate(memo)


@router.get("/conversations/{conversation_id}/costs", response_model=TotalsPublic)
async def conversation_costs(conversation_id: str, service: Service, user: CurrentUser) -> TotalsPublic:
    """Tokens and cost by persona (with `orchestrator` and `summaries`), provider and model; raw, billed."""
    return TotalsPublic.model_validate(await service.costs(user_id=user, conversation_id=conversation_id))


@router.get("/usage", response_model=UsagePublic)
async def my_usage(service: Service, user: CurrentUser) -> UsagePublic:
    """My plan, what I used today and this month, what is left, and cost alerts."""
    budget = await service.budget_for(user)
    return UsagePublic.model_validate(await budget.usage())


@router.get("/costs/daily", response_model=list[DailyCost])
async def daily_costs(
    service: Service, user: CurrentUser, days: int = Query(30, ge=1, le=366)
) -> list[DailyCost]:
    """My spend per day (UTC), most recent `days` days that had any."""
    return [DailyCost.model_validate(d) for d in await service.daily_costs(user_id=user, days=days)]
