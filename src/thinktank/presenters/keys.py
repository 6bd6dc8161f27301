"""My API keys as the API and the settings page show them: the last four characters only."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from thinktank.accounts.keys import KeyInfo, KeyStore
from thinktank.conversations import ConversationService
from thinktank.errors import ConfigurationError


class KeyPublic(BaseModel):
    """One of my API keys: its provider and last four characters, never the key."""

    provider: str
    last4: str
    is_valid: bool
    last_used: datetime | None
    created_at: datetime


def key_public(info: KeyInfo) -> KeyPublic:
    return KeyPublic(
        provider=info.provider,
        last4=info.last4,
        is_valid=info.is_valid,
        last_used=info.last_used,
        created_at=info.created_at,
    )


def keystore_of(service: ConversationService) -> KeyStore:
    """The key store, or a clear refusal where the server was started without one."""
    if service.keystore is None:
        raise ConfigurationError("this server does not store API keys")
    return service.keystore


async def my_keys(service: ConversationService, user_id: str) -> list[KeyPublic]:
    return [key_public(k) for k in await keystore_of(service).list_user_keys(user_id=user_id)]
