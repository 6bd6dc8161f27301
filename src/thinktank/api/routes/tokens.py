"""My personal API tokens: create (shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from thinktank.accounts import tokens as token_store
from thinktank.api.deps import CurrentUser, Service

router = APIRouter(tags=["tokens"])


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)


class TokenCreated(BaseModel):
    id: str
    name: str
    token: str = Field(description="Shown once; store it now")


class TokenPublic(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used: datetime | None


@router.post("/tokens", response_model=TokenCreated, status_code=201)
async def create_token(body: TokenCreate, service: Service, user: CurrentUser) -> TokenCreated:
    async with service.db.session() as session:
        issued = await token_store.issue_token(session, user_id=user, name=body.name)
    return TokenCreated(id=issued.id, name=issued.name, token=issued.token)


@router.get("/tokens", response_model=list[TokenPublic])
async def list_tokens(service: Service, user: CurrentUser) -> list[TokenPublic]:
    async with service.db.session() as session:
        rows = await token_store.list_tokens(session, user_id=user)
    return [
        TokenPublic(id=r.id, name=r.name, prefix=r.prefix, created_at=r.created_at, last_used=r.last_used)
        for r in rows
    ]


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, service: Service, user: CurrentUser) -> Response:
    async with service.db.session() as session:
        await token_store.revoke_token(session, user_id=user, token_id=token_id)
    return Response(status_code=204)
