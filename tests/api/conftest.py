from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeServer
from tests.models.test_providers import openai_stream
from tests.services import fresh_postgres_database
from tests.store.test_migrations import upgrade
from thinktank.accounts.tokens import create_user, issue_token
from thinktank.api.app import create_app
from thinktank.library.loader import load_library
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings
from thinktank.store.db import Database


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'thinktank.db'}"
        return
    with fresh_postgres_database() as url:
        from tests.store.test_migrations import upgrade

        upgrade(url)
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, scripted_latency=NO_LATENCY, data_dir=tmp_path / "data")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        yield test_client


SECRET = "k" * 16 + "0123456789abcdef0123"


@dataclass
class Account:
    headers: dict[str, str]
    persona_id: str
    conversation_id: str
    token_id: str


def provider(request: httpx2.Request) -> httpx2.Response:
    if request.url.path.endswith("/models"):
        return httpx2.Response(200, json={"object": "list", "data": []})
    return openai_stream("Fine.")


async def make_users(url: str) -> list[tuple[str, str]]:
    db = Database(url)
    try:
        tokens = []
        async with db.session() as session:
            for email in ("ada@example.com", "bob@example.com"):
                user = await create_user(session, email=email, tier="free")
                tokens.append((user.id, (await issue_token(session, user_id=user.id, name="tests")).token))
        return tokens
    finally:
        await db.dispose()


def populate(client: TestClient, token: str, name: str) -> Account:
    headers = {"Authorization": f"Bearer {token}"}
    persona = load_library().persona("cfo").model_dump(mode="json")
    persona.update(id=f"{name}-secret-persona", name=f"{name.title()} Secret")
    assert client.post("/api/v1/personas", json=persona, headers=headers).status_code == 201
    assert (
        client.put(
            "/api/v1/keys/openai", json={"api_key": f"sk-{name}-key-123456"}, headers=headers
        ).status_code
        == 200
    )
    created = client.post(
        "/api/v1/conversations",
        json={"topic": f"{name} private plans", "persona_ids": ["cfo", persona["id"]], "model": "scripted"},
        headers=headers,
    )
    cid = created.json()["id"]
    client.post(f"/api/v1/conversations/{cid}/turns", headers={**headers, "Idempotency-Key": "one"})
    client.post(f"/api/v1/conversations/{cid}/messages", json={"text": "a private thought"}, headers=headers)
    extra = client.post("/api/v1/tokens", json={"name": "script"}, headers=headers).json()
    return Account(headers, persona["id"], cid, extra["id"])


@pytest.fixture
def accounts(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Account, Account]]:
    if database_url.startswith("sqlite"):
        upgrade(database_url)
    (_, ada_token), (_, bob_token) = asyncio.run(make_users(database_url))
    server = FakeServer(always=provider)
    settings = Settings(
        database_url=database_url,
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path / "d",
        auth="multi",
        secret_key=SECRET,
    )
    with TestClient(create_app(settings, http_client=server.client())) as client:
        yield client, populate(client, ada_token, "ada"), populate(client, bob_token, "bob")


def start(client: TestClient, **body: object) -> str:
    payload = {"template_id": "security-review", "model": "scripted", "seed": 1, **body}
    response = client.post("/api/v1/conversations", json=payload)
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["id"]
    return conversation_id
