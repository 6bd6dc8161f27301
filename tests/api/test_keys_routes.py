"""My API keys over the API, and the planted-key check: a real key never lands in plain text."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeServer
from tests.models.test_providers import openai_stream
from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings

PLANTED = "sk-planted-4f1c9e2d7b3a-SECRET-9q8w"


class Provider:
    """A fake OpenAI: lists models for key checks, streams replies, can start rejecting the key."""

    def __init__(self) -> None:
        self.authorizations: list[str] = []
        self.reject = False
        self.unreachable = False

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.authorizations.append(request.headers.get("authorization", ""))
        if self.unreachable:
            raise httpx2.ConnectError("connection refused", request=request)
        if self.reject:
            return httpx2.Response(
                401, json={"error": {"message": "key revoked", "type": "invalid_request_error"}}
            )
        if request.url.path.endswith("/models"):
            return httpx2.Response(200, json={"object": "list", "data": []})
        return openai_stream("Numbers ", "first, ", "then the story.")


@pytest.fixture
def provider() -> Provider:
    return Provider()


def keyed_app(tmp_path: Path, provider: Provider) -> TestClient:
    """The app over a database and key files in `tmp_path`, talking to the fake provider."""
    server = FakeServer(always=provider)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}",
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path,
    )
    return TestClient(create_app(settings, http_client=server.client()), base_url="http://127.0.0.1")


@pytest.fixture
def keyed_client(tmp_path: Path, provider: Provider) -> Iterator[TestClient]:
    with keyed_app(tmp_path, provider) as client:
        yield client


def test_a_key_check_that_cannot_reach_the_provider_answers_503(
    keyed_client: TestClient, provider: Provider
) -> None:
    provider.unreachable = True
    answer = keyed_client.put("/api/v1/keys/openai", json={"api_key": PLANTED})
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "provider_unreachable"
    assert answer.json()["error"]["details"] == {"provider": "openai"}
    assert answer.headers["retry-after"] == "5"
    assert keyed_client.get("/api/v1/keys").json() == []


def test_add_list_and_remove_my_keys(keyed_client: TestClient, provider: Provider) -> None:
    added = keyed_client.put("/api/v1/keys/openai", json={"api_key": PLANTED})
    assert added.status_code == 200, added.text
    assert added.json()["last4"] == PLANTED[-4:]
    listed = keyed_client.get("/api/v1/keys").json()
    assert [(k["provider"], k["last4"], k["is_valid"]) for k in listed] == [("openai", "9q8w", True)]
    assert PLANTED not in keyed_client.get("/api/v1/keys").text
    assert keyed_client.put("/api/v1/keys/mistral", json={"api_key": PLANTED}).status_code == 400
    provider.reject = True
    refused = keyed_client.put("/api/v1/keys/anthropic", json={"api_key": "sk-ant-wrong-0000"})
    assert refused.status_code == 400
    assert "did not accept" in refused.json()["error"]["message"]
    assert keyed_client.delete("/api/v1/keys/openai").status_code == 204
    assert keyed_client.get("/api/v1/keys").json() == []
    assert keyed_client.delete("/api/v1/keys/openai").status_code == 404


def test_a_planted_key_never_appears_in_the_database_logs_or_responses(
    keyed_client: TestClient, provider: Provider, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = [keyed_client.put("/api/v1/keys/openai", json={"api_key": PLANTED}).text]
    created = keyed_client.post(
        "/api/v1/conversations",
        json={"topic": "Should we raise prices?", "persona_ids": ["cfo"], "max_messages": 3},
    )
    cid = created.json()["id"]
    members = created.json()["members"]
    assert members[0]["models"] == ["openai:gpt-4.1"], (
        "the user's own key makes the persona's own model usable"
    )
    turn = keyed_client.post(f"/api/v1/conversations/{cid}/turns")
    assert turn.json()["message"]["text"] == "Numbers first, then the story."
    assert f"Bearer {PLANTED}" in provider.authorizations, "the key did reach the provider, and only there"
    assert keyed_client.get("/api/v1/keys").json()[0]["last_used"] is not None
    responses += [
        turn.text,
        keyed_client.get(f"/api/v1/conversations/{cid}/export").text,
        keyed_client.get("/api/v1/keys").text,
    ]

    provider.reject = True
    failed = keyed_client.post(f"/api/v1/conversations/{cid}/turns")
    responses.append(failed.text)
    keys = keyed_client.get("/api/v1/keys").json()
    assert keys[0]["is_valid"] is False, "a key the provider rejects is marked invalid"

    stored = b"".join(path.read_bytes() for path in tmp_path.glob("keys.db*"))
    assert len(stored) > 10_000
    assert PLANTED.encode() not in stored
    assert "openai key was rejected by the provider" in caplog.text, "the logs were captured"
    assert PLANTED not in caplog.text
    assert all(PLANTED not in text for text in responses)


def test_a_lost_master_key_is_a_server_fault_not_the_callers_mistake(
    tmp_path: Path, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    with keyed_app(tmp_path, provider) as client:
        assert client.put("/api/v1/keys/openai", json={"api_key": PLANTED}).status_code == 200
    (tmp_path / "master.key").unlink()  # the operator lost it; a new one is made on start

    with keyed_app(tmp_path, provider) as client:
        listed = client.get("/api/v1/keys")

    assert listed.status_code == 500, listed.text
    assert listed.json()["error"]["code"] == "server_fault"
    assert PLANTED not in listed.text
    assert any("no master key" in r.getMessage() for r in caplog.records)
