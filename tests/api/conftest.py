from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.services import fresh_postgres_database
from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings


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
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def start(client: TestClient, **body: object) -> str:
    payload = {"template_id": "security-review", "model": "scripted", "seed": 1, **body}
    response = client.post("/api/v1/conversations", json=payload)
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["id"]
    return conversation_id
