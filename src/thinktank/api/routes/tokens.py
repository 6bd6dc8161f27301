"""My personal API tokens: create (shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from thinktank.presenters.deps import CurrentUser, UsersDep

router = APIRouter(tags=["tokens"])


class TokenCreate(BaseModel):
    """A name for a new API token."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)


class TokenCreated(BaseModel):
    """A new API token, shown this once."""

    id: str
    name: str
    token: str = Field(description="Shown once; store it now")


class TokenPublic(BaseModel):
    """An API token as listed: never the token itself."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used: datetime | None


@router.post("/tokens", response_model=TokenCreated, status_code=201)
async def create_token(body: TokenCreate, users: UsersDep, user: CurrentUser) -> TokenCreated:
    issued = await users.issue_token(user_id=user, name=body.name)
    return TokenCreated(id=issued.id, name=issued.name, token=issued.token)


@router.get("/tokens", response_model=list[TokenPublic])
async def list_tokens(users: UsersDep, user: CurrentUser) -> list[TokenPublic]:
    rows = await users.list_tokens(user_id=user)
    return [
        TokenPublic(id=r.id, name=r.name, prefix=r.prefix, created_at=r.created_at, last_used=r.last_used)
        for r in rows
    ]


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, users: UsersDep, user: CurrentUser) -> Response:
    await users.revoke_token(user_id=user, token_id=token_id)
    return Response(status_code=204)
