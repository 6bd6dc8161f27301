"""My API keys: add (validated with the provider), list (last four characters only), remove."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from thinktank.presenters.deps import CurrentUser, Service
from thinktank.presenters.keys import KeyPublic, key_public, keystore_of, my_keys

router = APIRouter(tags=["keys"])


class KeyIn(BaseModel):
    """An API key to check with its provider and store."""

    model_config = ConfigDict(extra="forbid")
    api_key: str = Field(min_length=8, max_length=400, description="Stored encrypted; never shown again")


@router.get("/keys", response_model=list[KeyPublic])
async def list_keys(service: Service, user: CurrentUser) -> list[KeyPublic]:
    return await my_keys(service, user)


@router.put("/keys/{provider}", response_model=KeyPublic)
async def add_key(provider: str, body: KeyIn, service: Service, user: CurrentUser) -> KeyPublic:
    """Checked with a cheap real call first; it replaces any key of mine for that provider."""
    info = await keystore_of(service).add_user_key(user_id=user, provider=provider, api_key=body.api_key)
    return key_public(info)


@router.delete("/keys/{provider}", status_code=204)
async def remove_key(provider: str, service: Service, user: CurrentUser) -> Response:
    await keystore_of(service).remove_user_key(user_id=user, provider=provider)
    return Response(status_code=204)
