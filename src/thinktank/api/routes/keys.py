"""My API keys: add (validated with the provider), list (last four characters only), remove."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from thinktank.accounts.keys import KeyInfo, KeyStore
from thinktank.api.deps import CurrentUser, Service
from thinktank.errors import ConfigurationError

router = APIRouter(tags=["keys"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: str = Field(min_length=8, max_length=400, description="Stored encrypted; never shown again")


class KeyPublic(BaseModel):
    provider: str
    last4: str
    is_valid: bool
    last_used: datetime | None
    created_at: datetime


def _public(info: KeyInfo) -> KeyPublic:
    return KeyPublic(
        provider=info.provider,
        last4=info.last4,
        is_valid=info.is_valid,
        last_used=info.last_used,
        created_at=info.created_at,
    )


def keystore_of(service: Service) -> KeyStore:
    if service.keystore is None:
        raise ConfigurationError("this server does not store API keys")
    return service.keystore


@router.get("/keys", response_model=list[KeyPublic])
async def list_keys(service: Service, user: CurrentUser) -> list[KeyPublic]:
    return [_public(k) for k in await keystore_of(service).list_user_keys(user_id=user)]


@router.put("/keys/{provider}", response_model=KeyPublic)
async def add_key(provider: str, body: KeyIn, service: Service, user: CurrentUser) -> KeyPublic:
    """Checked with a cheap real call first; it replaces any key of mine for that provider."""
    info = await keystore_of(service).add_user_key(user_id=user, provider=provider, api_key=body.api_key)
    return _public(info)


@router.delete("/keys/{provider}", status_code=204)
async def remove_key(provider: str, service: Service, user: CurrentUser) -> Response:
    await keystore_of(service).remove_user_key(user_id=user, provider=provider)
    return Response(status_code=204)
