"""Everything built from settings: the model factory, the key store and one running
`ConversationService`. The web app, the job worker and the CLI all start here, so the layers below
never read `Settings`.

Without THINKTANK_REDIS_URL it is the embedded default (in-process bus, auto mode as tasks of this
process). With it, events go through Redis Streams, conversations are shared by lease, and auto
mode runs on `thinktank worker` processes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import httpx2

from thinktank.accounts.crypto import load_fingerprint_secret, load_keyring
from thinktank.accounts.keys import KeyStore, validate_with_provider
from thinktank.accounts.ratelimit import RateLimiter, RedisRateLimiter
from thinktank.accounts.tiers import Tiers, load_tiers
from thinktank.conversations import ConversationService
from thinktank.events.log import Bus, EventBus
from thinktank.events.redis_bus import RedisEventBus
from thinktank.jobs.scale import Scale, connect
from thinktank.library.loader import Library, load_library
from thinktank.models.ids import ProviderName, parse_model_id
from thinktank.models.resilience.deadline import Deadlines
from thinktank.models.stack import ModelFactory
from thinktank.ops.profiles import offered_local_models, profile_of, rate_limits
from thinktank.pricing.prices import Pricer
from thinktank.settings import Settings
from thinktank.store.db import Database

# "command": a short-lived CLI command (memo, fork, rerun, batch run) beside a server that may be
# running on the same database; it leaves start-up recovery, the purge and Redis to the server.
Role = Literal["web", "worker", "command"]


def factory_from_settings(
    settings: Settings, *, http_client: httpx2.AsyncClient | None = None
) -> ModelFactory:
    """The factory every entry point (server, CLI) builds from its settings."""
    return ModelFactory(
        keys=settings.keys,
        pricer=Pricer(markup=settings.markup),
        scripted_latency=settings.scripted_latency,
        substitute=parse_model_id(settings.substitute_model),
        http_client=http_client,
        deadlines=Deadlines(first_byte=settings.model_first_byte_timeout, idle=settings.model_idle_timeout),
    )


def open_keystore(settings: Settings, db: Database, *, http_client: httpx2.AsyncClient) -> KeyStore:
    """The key store for these settings: key files in the data directory unless the env names keys."""
    key_dir = settings.resolved_data_dir()

    async def validate(provider: ProviderName, api_key: str) -> None:
        await validate_with_provider(provider, api_key, http_client=http_client)

    return KeyStore(
        db,
        keyring=load_keyring(settings.env, key_dir=key_dir),
        fingerprint_secret=load_fingerprint_secret(settings.env, key_dir=key_dir),
        validator=validate,
        env_keys=settings.keys,
    )


async def prepare_database(db: Database) -> None:
    """SQLite is upgraded in place (a personal tool); PostgreSQL is upgraded by the operator."""
    if db.is_sqlite:
        await db.upgrade()
    elif await db.current_revision() != db.head_revision():
        raise RuntimeError("the database schema is not current: run `thinktank db upgrade` first")


@asynccontextmanager
async def running_service(
    settings: Settings,
    *,
    role: Role,
    db: Database,
    library: Library,
    factory: ModelFactory,
    keystore: KeyStore | None,
    tiers: Tiers,
) -> AsyncIterator[ConversationService]:
    await prepare_database(db)
    scale: Scale | None = None
    bus: Bus = EventBus()
    limits = rate_limits(settings)
    limiter = RateLimiter(limits)
    if settings.redis_url and role != "command":
        scale = await connect(
            settings.redis_url, kind=role, drives_here=role == "worker", lease_ttl=settings.lease_seconds
        )
        bus = RedisEventBus(scale.redis)
        limiter = RedisRateLimiter(limits, scale.redis)
        if keystore is not None:
            keystore.share_cache(scale.redis)
    elif role == "worker":
        raise RuntimeError("a job worker needs THINKTANK_REDIS_URL (the queue it takes jobs from)")
    service = ConversationService(
        db=db,
        library=library,
        factory=factory,
        bus=bus,
        keystore=keystore,
        tiers=tiers,
        scale=scale,
        profile=profile_of(settings),
        rate_limiter=None if limits.unlimited else limiter,
        local_models=None if settings.auth == "local" else offered_local_models(settings),
    )
    await service.start(recover=role != "command")
    try:
        yield service
    finally:
        await service.close()
        await bus.close()
        if scale is not None:
            await scale.close()


@asynccontextmanager
async def service_from_settings(
    settings: Settings, *, role: Role, db: Database, http_client: httpx2.AsyncClient | None = None
) -> AsyncIterator[ConversationService]:
    """The service with everything settings name (library, models, the key store, plans), so the
    worker and every CLI command use a user's stored keys and the profile exactly as the web app."""
    validation_client = http_client or httpx2.AsyncClient(timeout=30.0)
    try:
        async with running_service(
            settings,
            role=role,
            db=db,
            library=load_library(user_dir=settings.library_dir),
            factory=factory_from_settings(settings, http_client=http_client),
            keystore=open_keystore(settings, db, http_client=validation_client),
            tiers=load_tiers(settings.tiers_file),
        ) as service:
            yield service
    finally:
        if http_client is None:
            await validation_client.aclose()
