"""Which credentials a user's personas speak with: their own keys, else the platform's, else the
server's own."""

from __future__ import annotations

import logging

from thinktank.accounts.keys import KeyStore
from thinktank.models.ids import ModelId
from thinktank.models.stack import ModelFactory

log = logging.getLogger(__name__)


class UserModels:
    """The model factory of each user. Without a key store (one user on their own machine) every
    user gets the server's factory as it is."""

    def __init__(self, factory: ModelFactory, *, keystore: KeyStore | None) -> None:
        self.factory = factory
        self.keystore = keystore

    async def factory_for(self, user_id: str, *, touch: bool = True) -> ModelFactory:
        """Models for this user's personas: their own keys, else the platform's, else the server's."""
        keystore = self.keystore
        if keystore is None:
            return self.factory

        async def rejected(model_id: ModelId) -> None:
            if await keystore.owns_key(user_id=user_id, provider=model_id.provider):
                log.warning(
                    "a stored %s key was rejected by the provider; it is now marked invalid",
                    model_id.provider,
                )
                await keystore.mark_invalid(user_id=user_id, provider=model_id.provider)

        keys = await keystore.keys_for(user_id=user_id)
        if touch:  # last used: when a conversation last started with them (not when it was looked at)
            await keystore.touch_all(user_id=user_id)
        return self.factory.with_keys(keys, on_rejected_key=rejected)
