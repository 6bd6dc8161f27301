"""The key store: validation, duplicates, hybrid resolution, invalidation, cache and rotation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from thinktank.accounts.crypto import load_fingerprint_secret, load_keyring
from thinktank.accounts.keys import KeyStore
from thinktank.accounts.rotation import rotate_master
from thinktank.errors import ProviderUnavailable, ProviderUnreachable, Unauthorized, UnknownIdError, UserError
from thinktank.models.keys import ProviderKeys
from thinktank.store.db import Database
from thinktank.store.repository import LOCAL_USER_ID, ensure_local_user
from thinktank.store.tables import User, UserApiKey

OTHER_USER = "00000000-0000-0000-0000-000000000002"


class FakeValidator:
    def __init__(self) -> None:
        self.checked: list[tuple[str, str]] = []
        self.rejected: set[str] = set()

    async def __call__(self, provider: str, api_key: str) -> None:
        self.checked.append((provider, api_key))
        if api_key in self.rejected:
            raise Unauthorized("bad key", provider=provider, status_code=401)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def validator() -> FakeValidator:
    return FakeValidator()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, validator: FakeValidator, clock: Clock) -> AsyncIterator[KeyStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    await db.upgrade()
    async with db.session() as session:
        await ensure_local_user(session)
        session.add(User(id=OTHER_USER, display_name="Other"))
        await session.commit()
    keystore = KeyStore(
        db,
        keyring=load_keyring({}, key_dir=tmp_path),
        fingerprint_secret=load_fingerprint_secret({}, key_dir=tmp_path),
        validator=validator,
        env_keys=ProviderKeys(anthropic="env-anthropic-key-0000"),
        clock=clock,
    )
    yield keystore
    await db.dispose()


async def test_a_user_key_is_validated_stored_encrypted_and_listed_by_its_last_four(
    store: KeyStore, validator: FakeValidator
) -> None:
    info = await store.add_user_key(user_id=LOCAL_USER_ID, provider="openai", api_key="sk-user-openai-9876")
    assert info.last4 == "9876"
    assert validator.checked == [("openai", "sk-user-openai-9876")]
    listed = await store.list_user_keys(user_id=LOCAL_USER_ID)
    assert [(k.provider, k.last4, k.is_valid) for k in listed] == [("openai", "9876", True)]
    async with store.db.session() as session:
        stored = await session.scalar(sa.select(UserApiKey.encrypted_key))
    assert stored is not None
    assert "sk-user-openai-9876" not in stored


async def test_rejected_and_malformed_keys_are_refused(store: KeyStore, validator: FakeValidator) -> None:
    validator.rejected.add("sk-wrong-key-0000")
    with pytest.raises(UserError, match="did not accept"):
        await store.add_user_key(user_id=LOCAL_USER_ID, provider="openai", api_key="sk-wrong-key-0000")
    with pytest.raises(UserError, match="does not look like"):
        await store.add_user_key(user_id=LOCAL_USER_ID, provider="openai", api_key="short")
    with pytest.raises(UserError, match="not 'mistral'"):
        await store.add_user_key(user_id=LOCAL_USER_ID, provider="mistral", api_key="sk-good-key-2222")


async def test_a_key_someone_else_registered_tells_nothing_and_mine_can_be_added_again(
    store: KeyStore,
) -> None:
    """Fingerprints are per user: Bob cannot learn that Alice registered a key, and Alice re-adding
    her own key replaces it."""
    await store.add_user_key(user_id=LOCAL_USER_ID, provider="openai", api_key="sk-good-key-1111")
    await store.add_user_key(user_id=OTHER_USER, provider="openai", api_key="sk-good-key-1111")
    await store.add_user_key(user_id=LOCAL_USER_ID, provider="openai", api_key="sk-good-key-1111")
    await store.add_user_key(user_id=LOCAL_USER_ID, provider="anthropic", api_key="sk-good-key-1111")
    mine = await store.list_user_keys(user_id=LOCAL_USER_ID)
    assert [(k.provider, k.last4) for k in mine] == [("anthropic", "1111"), ("openai", "1111")]
    assert [k.provider for k in await store.list_user_keys(user_id=OTHER_USER)] == ["openai"]


async def test_a_provider_that_cannot_be_reached_is_a_503_not_a_refused_key(store: KeyStore) -> None:
    async def unreachable(provider: str, api_key: str) -> None:
        raise ProviderUnavailable("connection refused", provider=provider)

    store._validate = unreachable
    with pytest.raises(ProviderUnreachable, match="openai could not be reached"):
        await store.add_user_key(user_id=LOCAL_USER_ID, provider="openai", api_key="sk-good-key-1111")
    assert await store.list_user_keys(user_id=LOCAL_USER_ID) == []


async def test_hybrid_resolution_user_then_platform_then_environment(store: KeyStore) -> None:
    await store.set_platform_key(provider="openai", api_key="sk-platform-openai-5555")
    await store.add_user_key(user_id=LOCAL_USER_ID, provider="openai", api_key="sk-mine-openai-7777")
    mine = await store.keys_for(user_id=LOCAL_USER_ID)
    theirs = await store.keys_for(user_id=OTHER_USER)
    assert mine.openai == "sk-mine-openai-7777"
    assert theirs.openai == "sk-platform-openai-5555"
    assert mine.anthropic == theirs.anthropic == "env-anthropic-key-0000"
    assert mine.google is None


async def test_a_rejected_key_is_marked_invalid_and_no_longer_used(store: KeyStore) -> None:
    await store.set_platform_key(provider="openai", api_key="sk-platform-openai-5555")
    await store.add_user_key(user_id=LOCAL_USER_ID, provider="openai", api_key="sk-mine-openai-7777")
    await store.mark_invalid(user_id=LOCAL_USER_ID, provider="openai")
    assert (await store.keys_for(user_id=LOCAL_USER_ID)).openai == "sk-platform-openai-5555"
    assert [k.is_valid for k in await store.list_user_keys(user_id=LOCAL_USER_ID)] == [False]


async def test_decrypted_keys_are_cached_for_five_minutes(store: KeyStore, clock: Clock) -> None:
    await store.set_platform_key(provider="google", api_key="google-platform-key-1")
    assert (await store.keys_for(user_id=LOCAL_USER_ID)).google == "google-platform-key-1"
    async with store.db.session() as session:
        await session.execute(sa.delete(UserApiKey))
        await session.execute(sa.text("DELETE FROM platform_api_keys"))
        await session.commit()
    clock.now = 299
    assert (await store.keys_for(user_id=LOCAL_USER_ID)).google == "google-platform-key-1"
    clock.now = 301
    assert (await store.keys_for(user_id=LOCAL_USER_ID)).google is None


async def test_removing_a_key(store: KeyStore) -> None:
    await store.add_user_key(user_id=LOCAL_USER_ID, provider="anthropic", api_key="sk-ant-mine-3333")
    await store.remove_user_key(user_id=LOCAL_USER_ID, provider="anthropic")
    assert await store.list_user_keys(user_id=LOCAL_USER_ID) == []
    with pytest.raises(UnknownIdError):
        await store.remove_user_key(user_id=LOCAL_USER_ID, provider="anthropic")


async def test_master_key_rotation_interrupted_halfway_loses_nothing_and_resumes(
    store: KeyStore, tmp_path: Path
) -> None:
    plain = {f"sk-user-{i}-key-{i:04d}" for i in range(6)}
    for index, api_key in enumerate(sorted(plain)):
        user = LOCAL_USER_ID if index % 2 else OTHER_USER
        provider = ("openai", "anthropic", "google")[index // 2]
        await store.add_user_key(user_id=user, provider=provider, api_key=api_key)
    await store.set_platform_key(provider="openai", api_key="sk-platform-openai-5555")
    old_keyring = store.keyring

    class Interrupted(Exception):
        pass

    from thinktank.accounts.crypto import Keyring

    original_seal = Keyring.seal
    calls = 0

    def failing_seal(self: Keyring, plaintext: str) -> str:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise Interrupted
        return original_seal(self, plaintext)

    Keyring.seal = failing_seal  # type: ignore[method-assign]
    try:
        with pytest.raises(Interrupted):
            await rotate_master(store, key_dir=tmp_path)
    finally:
        Keyring.seal = original_seal  # type: ignore[method-assign]

    # Halfway: rows are split between two keys, and both the running server's keyring and a
    # freshly started one can still read every key.
    async with store.db.session() as session:
        sealed = list(await session.scalars(sa.select(UserApiKey.encrypted_key)))
    assert len({s.split(":")[1] for s in sealed}) == 2
    restarted = load_keyring({}, key_dir=tmp_path)
    assert {restarted.open(s) for s in sealed} == plain
    assert {old_keyring.open(s) for s in sealed} == plain

    store.keyring = restarted
    await rotate_master(store, key_dir=tmp_path)
    final = load_keyring({}, key_dir=tmp_path)
    async with store.db.session() as session:
        sealed = list(await session.scalars(sa.select(UserApiKey.encrypted_key)))
    assert {s.split(":")[1] for s in sealed} == {final.current_id}
    assert {final.open(s) for s in sealed} == plain
    assert final.current != old_keyring.current
    assert (tmp_path / "master.key.old").exists()
    assert not (tmp_path / "master.key.next").exists()
    assert (await store.keys_for(user_id=OTHER_USER)).openai in plain


def second_store(store: KeyStore, tmp_path: Path) -> KeyStore:
    """Another process of the same deployment: same database and master key, its own memory."""
    return KeyStore(
        store.db,
        keyring=load_keyring({}, key_dir=tmp_path),
        fingerprint_secret=load_fingerprint_secret({}, key_dir=tmp_path),
        validator=FakeValidator(),
        env_keys=ProviderKeys(),
    )


@pytest.mark.redis
async def test_with_redis_the_key_cache_holds_ciphertext_and_every_process_sees_a_change(
    store: KeyStore, tmp_path: Path
) -> None:
    from redis.asyncio import Redis

    from tests.services import fresh_redis

    with fresh_redis() as url:
        redis = Redis.from_url(url)
        try:
            web, worker = store, second_store(store, tmp_path)
            web.share_cache(redis)
            worker.share_cache(redis)
            await web.add_user_key(user_id=LOCAL_USER_ID, provider="openai", api_key="sk-mine-openai-7777")
            assert (await worker.keys_for(user_id=LOCAL_USER_ID)).openai == "sk-mine-openai-7777"
            cached = await redis.get(f"tt:keys:{LOCAL_USER_ID}")
            assert cached is not None
            assert b"sk-mine-openai-7777" not in cached, "Redis only ever holds the ciphertext"
            assert b"v1:" in cached
            await web.remove_user_key(user_id=LOCAL_USER_ID, provider="openai")
            assert (await worker.keys_for(user_id=LOCAL_USER_ID)).openai is None, "no stale key elsewhere"
        finally:
            await redis.aclose()
