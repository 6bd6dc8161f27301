"""A user's own OpenAI-compatible server (Ollama, LM Studio, llama.cpp server, vLLM), stored like
an API key: the base URL and the optional key are sealed together in the user's key row for the
`openai-compatible` provider, so `KeyStore.keys_for` hands them to the model factory with the rest.

Saving checks the server first (it must list its models); the model pickers then offer every model
it lists, and an Ollama answering on its default port is offered for one-click use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select

from thinktank.accounts.keys import LOCAL_SERVER, KeyStore
from thinktank.errors import UserError
from thinktank.models.local_server import ServerCatalog, normalize_base_url
from thinktank.store.tables import UserApiKey

MAX_SERVER_KEY_CHARS = 400


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """A user's local OpenAI-compatible server as shown: its URL, whether it has a key, its models."""

    base_url: str
    has_key: bool
    models: list[str]
    is_valid: bool = True

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc


class LocalServers:
    """A user's own OpenAI-compatible server (Ollama, LM Studio, llama.cpp, vLLM): checked, stored
    in their key row, and listed with its models."""

    def __init__(self, keystore: KeyStore, catalog: ServerCatalog) -> None:
        self.keystore = keystore
        self.catalog = catalog

    async def save(self, *, user_id: str, base_url: str, api_key: str | None) -> ServerInfo:
        """Check the server (it must list models), then store it, replacing the user's previous one."""
        url = normalize_base_url(base_url)
        key = (api_key or "").strip() or None
        if key is not None and (len(key) > MAX_SERVER_KEY_CHARS or any(c.isspace() for c in key)):
            raise UserError(f"a server key is at most {MAX_SERVER_KEY_CHARS} characters, without spaces")
        models = await self.catalog.check(url, api_key=key)
        sealed = self.keystore.keyring.seal(json.dumps({"base_url": url, "api_key": key}))
        await self.keystore.forget(user_id)
        async with self.keystore.db.session() as session, session.begin():
            for old in await session.scalars(
                select(UserApiKey).where(UserApiKey.user_id == user_id, UserApiKey.provider == LOCAL_SERVER)
            ):
                await session.delete(old)
            await session.flush()
            session.add(
                UserApiKey(
                    user_id=user_id,
                    provider=LOCAL_SERVER,
                    encrypted_key=sealed,
                    key_hash=self.keystore.fingerprint(f"server:{user_id}:{url}"),
                    last_validated=datetime.now(UTC),
                )
            )
        await self.keystore.forget(user_id)
        return ServerInfo(url, key is not None, models)

    async def current(self, *, user_id: str) -> ServerInfo | None:
        """The user's server and the models it lists now ([] while it is unreachable)."""
        async with self.keystore.db.session() as session:
            row = await session.scalar(
                select(UserApiKey).where(UserApiKey.user_id == user_id, UserApiKey.provider == LOCAL_SERVER)
            )
        if row is None:
            return None
        config = json.loads(self.keystore.keyring.open(row.encrypted_key))
        url, key = config["base_url"], config.get("api_key")
        return ServerInfo(url, key is not None, await self.catalog.models(url, api_key=key), row.is_valid)

    async def remove(self, *, user_id: str) -> None:
        current = await self.current(user_id=user_id)
        await self.keystore.remove_user_key(user_id=user_id, provider=LOCAL_SERVER)
        if current is not None:
            self.catalog.forget(current.base_url)
