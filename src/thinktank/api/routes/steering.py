"""Members, messages and control of a conversation."""

from __future__ import annotations

from fastapi import APIRouter, Header, Query, Response

from thinktank.domain import Message, Persona
from thinktank.errors import UserError
from thinktank.presenters.deps import CurrentUser, Service
from thinktank.presenters.schemas import (
    ContinueRequest,
    Interjection,
    MemberAdd,
    MessagePage,
    MessagePublic,
    PersonaIn,
    RunModeChange,
    SpeedChange,
    TurnRequest,
    TurnResult,
)

MAX_INDEX = 2**31 - 1
"""Message positions are 32-bit in the database: a larger cursor cannot match anything."""

router = APIRouter(tags=["steering"])


def message_public(message: Message) -> MessagePublic:
    data = message.to_json()
    return MessagePublic.model_validate(data)


@router.post("/conversations/{conversation_id}/members", status_code=204)
async def add_member(conversation_id: str, body: MemberAdd, service: Service, user: CurrentUser) -> Response:
    """Add a library persona or one of mine by id, or an inline persona."""
    if (body.persona_id is None) == (body.persona is None):
        raise UserError("give exactly one of persona_id or persona")
    if body.persona is not None:
        persona = Persona.model_validate(body.persona.model_dump())
    else:
        persona = await service.persona(user_id=user, persona_id=body.persona_id or "")
    await service.add_member(user_id=user, conversation_id=conversation_id, persona=persona)
    return Response(status_code=204)


@router.put("/conversations/{conversation_id}/members/{persona_id}", status_code=204)
async def edit_member(
    conversation_id: str, persona_id: str, body: PersonaIn, service: Service, user: CurrentUser
) -> Response:
    """Change a member: later turns use the new version; the transcript keeps what was said."""
    if body.id != persona_id:
        raise UserError(f"the body's id {body.id!r} does not match the URL's {persona_id!r}")
    persona = Persona.model_validate(body.model_dump())
    await service.replace_member(user_id=user, conversation_id=conversation_id, persona=persona)
    return Response(status_code=204)


@router.delete("/conversations/{conversation_id}/members/{persona_id}", status_code=204)
async def remove_member(
    conversation_id: str, persona_id: str, service: Service, user: CurrentUser
) -> Response:
    await service.remove_member(user_id=user, conversation_id=conversation_id, persona_id=persona_id)
    return Response(status_code=204)


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: str,
    service: Service,
    user: CurrentUser,
    after: int | None = Query(None, ge=-1, le=MAX_INDEX, description="Messages after this index (newer)"),
    before: int | None = Query(None, ge=0, le=MAX_INDEX, description="Messages before this index (older)"),
    limit: int = Query(50, ge=1, le=500),
) -> MessagePage:
    messages = await service.messages_page(
        user_id=user, conversation_id=conversation_id, after=after, before=before, limit=limit
    )
    items = [message_public(m) for m in messages]
    return MessagePage(
        items=items,
        before=items[0].index if items else before,
        after=items[-1].index if items else after,
    )


@router.post(
    "/conversations/{conversation_id}/messages", response_model=MessagePublic | None, status_code=201
)
async def interject(
    conversation_id: str, body: Interjection, service: Service, user: CurrentUser
) -> MessagePublic | None:
    """The user speaks. During a turn it is queued and lands right after it (the answer is then null)."""
    message = await service.interject(user_id=user, conversation_id=conversation_id, text=body.text)
    return None if message is None else message_public(message)


@router.post("/conversations/{conversation_id}/turns", response_model=TurnResult)
async def take_turn(
    conversation_id: str,
    service: Service,
    user: CurrentUser,
    body: TurnRequest | None = None,
    idempotency_key: str | None = Header(
        None, max_length=200, description="A retry with the same key gets the same turn"
    ),
) -> TurnResult:
    """Generate the next turn now (optionally naming the speaker). Tokens stream on the events endpoint."""
    message = await service.take_turn(
        user_id=user,
        conversation_id=conversation_id,
        speaker=body.speaker if body else None,
        idempotency_key=idempotency_key,
    )
    engine = await service.engine(user_id=user, conversation_id=conversation_id)
    return TurnResult(
        message=None if message is None else message_public(message),
        status=engine.status,
        stop_reason=engine.stop_reason,
    )


@router.put("/conversations/{conversation_id}/mode", status_code=204)
async def set_run_mode(
    conversation_id: str, body: RunModeChange, service: Service, user: CurrentUser
) -> Response:
    """auto: the server takes turns by itself, (11 - speed) s apart; manual: one turn per request."""
    await service.set_run_mode(user_id=user, conversation_id=conversation_id, mode=body.mode)
    return Response(status_code=204)


@router.put("/conversations/{conversation_id}/speed", status_code=204)
async def set_speed(conversation_id: str, body: SpeedChange, service: Service, user: CurrentUser) -> Response:
    await service.set_speed(user_id=user, conversation_id=conversation_id, speed=body.speed)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/pause", status_code=204)
async def pause(conversation_id: str, service: Service, user: CurrentUser) -> Response:
    await service.pause(user_id=user, conversation_id=conversation_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/resume", status_code=204)
async def resume(conversation_id: str, service: Service, user: CurrentUser) -> Response:
    await service.resume(user_id=user, conversation_id=conversation_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/continue", status_code=204)
async def continue_conversation(
    conversation_id: str, body: ContinueRequest, service: Service, user: CurrentUser
) -> Response:
    """Open a finished, stopped or paused discussion for N more messages (its limit moves on)."""
    await service.continue_for(user_id=user, conversation_id=conversation_id, messages=body.messages)
    await service.set_run_mode(user_id=user, conversation_id=conversation_id, mode=body.mode)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/stop", status_code=204)
async def stop(conversation_id: str, service: Service, user: CurrentUser) -> Response:
    await service.stop(user_id=user, conversation_id=conversation_id)
    return Response(status_code=204)
