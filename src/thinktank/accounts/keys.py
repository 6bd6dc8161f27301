"""API keys: platform keys and each user's own (hybrid mode), encrypted at rest.

A user's persona on a provider uses, in order: the user's own valid key, the platform key, the
key in the server's environment, or else the bundled local model (and the discussion says so).
Keys are validated with a cheap real call when added, marked invalid when a provider later
rejects them, and never leave this module in plain text except inside a provider object: the
database holds ciphertext, listings show the last four characters, and decrypted keys live in
memory for at most five minutes (seed §2.3).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx2
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select, update

from thinktank.accounts.crypto import Keyring, fingerprint, last_four
from thinktank.errors import (
    ProviderFailure,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnreachable,
    RateLimited,
    UnknownIdError,
    UserError,
)
from thinktank.models.ids import ProviderName
from thinktank.models.keys import ProviderKeys
from thinktank.store.db import Database
from thinktank.store.tables import PlatformApiKey, UserApiKey

KEYED_PROVIDERS: tuple[ProviderName, ...] = ("anthropic", "openai", "google")
LOCAL_SERVER: ProviderName = "openai-compatible"
"""A user's own OpenAI-compatible server: its row holds the base URL and optional key, sealed
together as JSON (see `accounts.local_servers`)."""
CACHE_SECONDS = 300.0
SHARED_CACHE_PREFIX = "tt:keys:"


def _cache_key(user_id: str) -> str:
    return f"{SHARED_CACHE_PREFIX}{user_id}"


MAX_KEY_CHARS = 400

Validator = Callable[[ProviderName, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a user sees of a stored key: its provider, last four characters and health, never the key."""

    provider: str
    last4: str
    is_valid: bool
    last_used: datetime | None
    created_at: datetime


def _check_provider(provider: str) -> ProviderName:
    for known in KEYED_PROVIDERS:
        if provider == known:
            return known
    raise UserError(f"keys are kept for {', '.join(KEYED_PROVIDERS)}, not {provider!r}")


def _check_key(api_key: str) -> str:
    api_key = api_key.strip()
    if len(api_key) < 8 or len(api_key) > MAX_KEY_CHARS or any(c.isspace() for c in api_key):
        raise UserError("that does not look like an API key (8 to 400 characters, no spaces)")
    return api_key


class KeyStore:
    """API keys sealed in the database (a user's own and the platform's), checked with the provider
    before they are stored, resolved per call (user, then platform, then environment) and cached briefly."""

    def __init__(
        self,
        db: Database,
        *,
        keyring: Keyring,
        fingerprint_secret: bytes,
        validator: Validator,
        env_keys: ProviderKeys,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self._secret = fingerprint_secret
        self._validate = validator
        self._env = env_keys
        self._clock = clock
        self._cache: dict[str, tuple[float, ProviderKeys]] = {}
        self._shared: Redis | None = None

    def share_cache(self, redis: Redis) -> None:
        """With several processes: cache in Redis, shared and invalidated by all, and only as
        ciphertext (as the seed does); each use decrypts in the process that needs the key."""
        self._shared = redis

    async def _invalidate(self, user_id: str) -> None:
        self._cache.pop(user_id, None)
        if self._shared is not None:
            await self._shared.delete(_cache_key(user_id))

    async def _invalidate_all(self) -> None:
        self._cache.clear()
        if self._shared is not None:
            keys = [key async for key in self._shared.scan_iter(match=f"{SHARED_CACHE_PREFIX}*")]
            if keys:
                await self._shared.delete(*keys)

    async def _check_with_provider(self, name: ProviderName, api_key: str) -> None:
        """A refused key is the caller's mistake (400); a provider that cannot be reached is not (503)."""
        try:
            await self._validate(name, api_key)
        except (ProviderTimeout, ProviderUnavailable, RateLimited):
            raise ProviderUnreachable(name) from None
        except ProviderFailure as failure:
            raise UserError(f"{name} did not accept this key: {type(failure).__name__}") from None

    # --- a user's own keys -------------------------------------------------------------------

    async def add_user_key(self, *, user_id: str, provider: str, api_key: str) -> KeyInfo:
        name, api_key = _check_provider(provider), _check_key(api_key)
        # Per user and provider: nobody learns whether someone else registered a key, and adding
        # one's own key again replaces it (the old row goes first, in the same transaction).
        digest = fingerprint(self._secret, f"{user_id}\0{name}\0{api_key}")
        await self._check_with_provider(name, api_key)
        await self._invalidate(user_id)  # Redis away: refuse now rather than leave a stale cache
        async with self.db.session() as session, session.begin():
            for old in await session.scalars(
                select(UserApiKey).where(UserApiKey.user_id == user_id, UserApiKey.provider == name)
            ):
                await session.delete(old)
            await session.flush()
            row = UserApiKey(
                user_id=user_id,
                provider=name,
                encrypted_key=self.keyring.seal(api_key),
                key_hash=digest,
                last_validated=datetime.now(UTC),
            )
            session.add(row)
        await self._invalidate(user_id)
        return KeyInfo(name, last_four(api_key), True, None, row.created_at or datetime.now(UTC))

    async def list_user_keys(self, *, user_id: str) -> list[KeyInfo]:
        async with self.db.session() as session:
            rows = list(
                await session.scalars(
                    select(UserApiKey)
                    .where(UserApiKey.user_id == user_id, UserApiKey.provider != LOCAL_SERVER)
                    .order_by(UserApiKey.provider)
                )
            )
        return [
            KeyInfo(
                r.provider,
                last_four(self.keyring.open(r.encrypted_key)),
                r.is_valid,
                r.last_used,
                r.created_at,
            )
            for r in rows
        ]

    async def remove_user_key(self, *, user_id: str, provider: str) -> None:
        await self._invalidate(user_id)
        async with self.db.session() as session, session.begin():
            row = await session.scalar(
                select(UserApiKey).where(UserApiKey.user_id == user_id, UserApiKey.provider == provider)
            )
            if row is None:
                raise UnknownIdError("key", provider)
            await session.delete(row)
        await self._invalidate(user_id)

    def fingerprint(self, text: str) -> str:
        """The keyed hash stored beside a sealed secret (finds duplicates without decrypting)."""
        return fingerprint(self._secret, text)

    async def forget(self, user_id: str) -> None:
        """Drop a user's keys from every cache (their account is gone)."""
        await self._invalidate(user_id)

    async def mark_invalid(self, *, user_id: str, provider: str) -> None:
        """A provider rejected the user's key: stop using it and let the user see why."""
        await self._invalidate(user_id)
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(UserApiKey)
                .where(UserApiKey.user_id == user_id, UserApiKey.provider == provider)
                .values(is_valid=False)
            )
        await self._invalidate(user_id)

    async def touch_all(self, *, user_id: str) -> None:
        """Record that the user's valid keys were put to use now."""
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(UserApiKey)
                .where(UserApiKey.user_id == user_id, UserApiKey.is_valid.is_(True))
                .values(last_used=datetime.now(UTC))
            )

    # --- platform keys -----------------------------------------------------------------------

    async def set_platform_key(self, *, provider: str, api_key: str, validate: bool = True) -> KeyInfo:
        name, api_key = _check_provider(provider), _check_key(api_key)
        if validate:
            await self._check_with_provider(name, api_key)
        async with self.db.session() as session, session.begin():
            for old in await session.scalars(select(PlatformApiKey).where(PlatformApiKey.provider == name)):
                await session.delete(old)
            row = PlatformApiKey(provider=name, encrypted_key=self.keyring.seal(api_key))
            session.add(row)
        await self._invalidate_all()
        return KeyInfo(name, last_four(api_key), True, None, row.created_at or datetime.now(UTC))

    async def list_platform_keys(self) -> list[KeyInfo]:
        async with self.db.session() as session:
            rows = list(await session.scalars(select(PlatformApiKey).order_by(PlatformApiKey.provider)))
        return [
            KeyInfo(r.provider, last_four(self.keyring.open(r.encrypted_key)), True, None, r.created_at)
            for r in rows
        ]

    # --- what a user's personas run on -------------------------------------------------------

    async def keys_for(self, *, user_id: str) -> ProviderKeys:
        cached = self._cache.get(user_id)
        if cached is not None and self._clock() - cached[0] < CACHE_SECONDS:
            return cached[1]
        own, platform = await self._sealed_keys(user_id)
        chosen: dict[str, str | None] = {}
        for provider in KEYED_PROVIDERS:
            if provider in own:
                chosen[provider] = self.keyring.open(own[provider])
            elif provider in platform:
                chosen[provider] = self.keyring.open(platform[provider])
            else:
                chosen[provider] = self._env.key_for(provider)
        keys = replace(
            self._env, anthropic=chosen["anthropic"], openai=chosen["openai"], google=chosen["google"]
        )
        if LOCAL_SERVER in own:
            server = json.loads(self.keyring.open(own[LOCAL_SERVER]))
            keys = replace(
                keys,
                openai_compatible_base_url=server["base_url"],
                openai_compatible_key=server.get("api_key"),
            )
        if self._shared is None:
            self._cache[user_id] = (self._clock(), keys)
        return keys

    async def _sealed_keys(self, user_id: str) -> tuple[dict[str, str], dict[str, str]]:
        """(the user's valid keys, the platform's), encrypted: from the shared cache or the database."""
        if self._shared is not None:
            try:
                raw = await self._shared.get(_cache_key(user_id))
            except RedisError:
                raw = None  # only a cache: the database answers while Redis is away
            if raw is not None:
                cached = json.loads(raw)
                return cached["own"], cached["platform"]
        async with self.db.session() as session:
            platform = {r.provider: r.encrypted_key for r in await session.scalars(select(PlatformApiKey))}
            own = {
                r.provider: r.encrypted_key
                for r in await session.scalars(
                    select(UserApiKey).where(UserApiKey.user_id == user_id, UserApiKey.is_valid.is_(True))
                )
            }
        if self._shared is not None:
            body = json.dumps({"own": own, "platform": platform})
            with contextlib.suppress(RedisError):
                await self._shared.set(_cache_key(user_id), body, ex=int(CACHE_SECONDS))
        return own, platform

    async def owns_key(self, *, user_id: str, provider: str) -> bool:
        async with self.db.session() as session:
            row = await session.scalar(
                select(UserApiKey.id).where(
                    UserApiKey.user_id == user_id,
                    UserApiKey.provider == provider,
                    UserApiKey.is_valid.is_(True),
                )
            )
        return row is not None

    # --- rotation ----------------------------------------------------------------------------

    async def reseal_all(self) -> int:
        """Re-encrypt every key not yet under the keyring's current key, one row per transaction, so
        an interrupted rotation resumes where it stopped and never leaves a row unreadable."""
        moved = await self._reseal(UserApiKey) + await self._reseal(PlatformApiKey)
        await self._invalidate_all()
        return moved

    async def _reseal(self, table: type[UserApiKey] | type[PlatformApiKey]) -> int:
        async with self.db.session() as session:
            ids = [
                row_id
                for row_id, sealed in (await session.execute(select(table.id, table.encrypted_key))).all()
                if self.keyring.sealed_with(sealed) != self.keyring.current_id
            ]
        moved = 0
        for row_id in ids:
            async with self.db.session() as session, session.begin():
                row: UserApiKey | PlatformApiKey | None = await session.get(table, row_id)
                if row is None or self.keyring.sealed_with(row.encrypted_key) == self.keyring.current_id:
                    continue
                row.encrypted_key = self.keyring.seal(self.keyring.open(row.encrypted_key))
                moved += 1
        return moved


async def validate_with_provider(
    provider: ProviderName, api_key: str, *, http_client: httpx2.AsyncClient
) -> None:
    """The cheapest real call each provider offers: list models. Raises our ProviderFailure tree."""
    from anthropic import AsyncAnthropic
    from google import genai
    from google.genai.types import HttpOptions
    from openai import AsyncOpenAI

    from thinktank.models.translate import translate_error

    try:
        if provider == "openai":
            await AsyncOpenAI(api_key=api_key, http_client=http_client, max_retries=0).models.list()
        elif provider == "anthropic":
            await AsyncAnthropic(api_key=api_key, http_client=http_client, max_retries=0).models.list(limit=1)
        else:
            client = genai.Client(api_key=api_key, http_options=HttpOptions(httpx_async_client=http_client))
            await client.aio.models.list(config={"page_size": 1})
    except ProviderFailure:
        raise
    except Exception as exc:
        status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
        failure = translate_error(_as_http_error(exc, status, provider), provider=provider)
        if failure is None and _is_network_error(exc):
            failure = ProviderUnavailable(f"{provider} could not be reached", provider=provider)
        if failure is None:
            raise
        raise failure from exc


def _is_network_error(exc: BaseException) -> bool:
    """No connection, a timeout, a broken transfer, somewhere in the causes: the SDKs wrap the HTTP
    client's own errors, which may wrap the socket's."""
    import anthropic
    import openai

    network = (openai.APIConnectionError, anthropic.APIConnectionError, httpx2.TransportError, OSError)
    seen: BaseException | None = exc
    for _ in range(10):  # a chain of causes is short; a bound keeps a cyclic one from spinning
        if seen is None:
            return False
        if isinstance(seen, network):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _as_http_error(exc: Exception, status: object, provider: str) -> Exception:
    from pydantic_ai.exceptions import ModelHTTPError

    if isinstance(status, int):
        return ModelHTTPError(status_code=status, model_name=f"{provider} key check", body=str(exc))
    return exc
