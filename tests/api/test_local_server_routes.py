"""My local OpenAI-compatible server over the API and the settings page: checked, stored encrypted,
its models offered in every picker and used by personas; an Ollama on its default port offered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.models.test_providers import openai_stream
from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings

LM_STUDIO = "http://192.168.1.20:1234/v1"
MODELS = {"object": "list", "data": [{"id": "qwen2.5-7b-instruct"}, {"id": "phi-4-mini"}]}


class Servers:
    """A fake network: an LM Studio at LM_STUDIO (optionally wanting a key), maybe an Ollama, and
    nothing anywhere else (connection refused)."""

    def __init__(self) -> None:
        self.ollama: list[str] = []
        self.lm_studio_up = True
        self.lm_studio_key: str | None = None
        self.chats: list[httpx2.Request] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        url = str(request.url)
        if url.startswith("http://127.0.0.1:11434/v1/models") and self.ollama:
            return httpx2.Response(200, json={"data": [{"id": m} for m in self.ollama]})
        if url.startswith(LM_STUDIO) and self.lm_studio_up:
            if self.lm_studio_key and request.headers.get("authorization") != f"Bearer {self.lm_studio_key}":
                return httpx2.Response(401, json={"error": "unauthorized"})
            if url.endswith("/models"):
                return httpx2.Response(200, json=MODELS)
            if url.endswith("/chat/completions"):
                self.chats.append(request)
                return openai_stream("Cash first, ", "then growth.", model="phi-4-mini")
        if url.startswith("http://10.9.9.9"):
            return httpx2.Response(404, text="nothing here")
        raise httpx2.ConnectError("connection refused", request=request)


@pytest.fixture
def net() -> Servers:
    return Servers()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "servers.db"


@pytest.fixture
def client(net: Servers, db_path: Path, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db_path}",
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path / "data",
        substitute_model="scripted",
    )
    transport = httpx2.AsyncClient(transport=httpx2.MockTransport(net.handle))
    with TestClient(create_app(settings, http_client=transport), base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_a_server_is_checked_stored_encrypted_and_its_models_offered(
    client: TestClient, net: Servers, db_path: Path
) -> None:
    net.lm_studio_key = "lm-secret-123"
    assert client.get("/api/v1/local-server").json() == {"server": None, "ollama": None}
    saved = client.put("/api/v1/local-server", json={"base_url": LM_STUDIO, "api_key": "lm-secret-123"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["models"] == ["openai-compatible:phi-4-mini", "openai-compatible:qwen2.5-7b-instruct"]
    with create_engine(f"sqlite:///{db_path}").connect() as conn:
        stored = conn.execute(text("SELECT provider, encrypted_key FROM user_api_keys")).all()
    assert [row[0] for row in stored] == ["openai-compatible"]
    assert "lm-secret" not in stored[0][1]
    assert "192.168" not in stored[0][1]
    assert client.get("/api/v1/keys").json() == []  # not an API key of a cloud provider
    models = {m["model_id"]: m["available"] for m in client.get("/api/v1/models").json()}
    assert models["openai-compatible:qwen2.5-7b-instruct"] is True
    for page in ("/new", "/personas/new"):
        assert "openai-compatible:phi-4-mini" in client.get(page).text
    assert "192.168.1.20:1234" in client.get("/settings").text


def test_personas_run_on_the_server_with_its_key(client: TestClient, net: Servers) -> None:
    net.lm_studio_key = "lm-secret-123"
    client.put("/api/v1/local-server", json={"base_url": LM_STUDIO, "api_key": "lm-secret-123"})
    body = {
        "topic": "Raise prices?",
        "persona_ids": ["cfo", "ux-designer"],
        "model": "openai-compatible:phi-4-mini",
    }
    cid = client.post("/api/v1/conversations", json=body).json()["id"]
    turn = client.post(f"/api/v1/conversations/{cid}/turns")
    assert turn.status_code == 200, turn.text
    assert turn.json()["message"]["text"] == "Cash first, then growth."
    assert net.chats[0].headers["authorization"] == "Bearer lm-secret-123"


@pytest.mark.parametrize(
    ("base_url", "status", "code"),
    [
        ("http://127.0.0.1:9", 503, "server_unreachable"),
        ("http://10.9.9.9:8000", 400, "not_openai_compatible"),
        ("ftp://files.example.org", 400, "bad_request"),
    ],
)
def test_unreachable_and_invalid_servers_are_clear_errors(
    client: TestClient, base_url: str, status: int, code: str
) -> None:
    answer = client.put("/api/v1/local-server", json={"base_url": base_url})
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert client.get("/api/v1/local-server").json()["server"] is None


def test_a_rejected_key_is_a_clear_error_in_the_form(client: TestClient, net: Servers) -> None:
    net.lm_studio_key = "right-key"
    answer = client.post("/ui/local-server", data={"base_url": LM_STUDIO, "api_key": "wrong-key"})
    assert 'id="server-error"' in answer.text
    assert "check the key" in answer.text
    assert f'value="{LM_STUDIO}"' in answer.text
    down = client.post("/ui/local-server", data={"base_url": "http://127.0.0.1:9"})
    assert "is the server running?" in down.text


def test_an_ollama_on_its_default_port_is_offered_and_taken_in_one_click(
    client: TestClient, net: Servers
) -> None:
    net.ollama = ["llama3.2:3b", "gemma3:270m"]
    status = client.get("/api/v1/local-server").json()
    assert status["ollama"]["models"] == ["openai-compatible:gemma3:270m", "openai-compatible:llama3.2:3b"]
    settings = client.get("/settings").text
    assert "Ollama is running on this machine with 2 model(s)" in settings
    assert "Use Ollama" in settings
    taken = client.post("/ui/local-server", data={"base_url": "http://127.0.0.1:11434/v1"})
    assert 'Using <span class="mono">http://127.0.0.1:11434/v1</span>' in taken.text
    assert "Use Ollama" not in taken.text
    assert "openai-compatible:llama3.2:3b" in client.get("/new").text


def test_a_server_that_stops_answering_stays_stored_and_can_be_removed(
    client: TestClient, net: Servers
) -> None:
    client.put("/api/v1/local-server", json={"base_url": LM_STUDIO})
    net.lm_studio_up = False
    status = client.get("/api/v1/local-server").json()["server"]
    assert status["base_url"] == LM_STUDIO  # the models list is cached for a while, so it may still show
    assert client.delete("/api/v1/local-server").status_code == 204
    assert client.get("/api/v1/local-server").json()["server"] is None
    assert "openai-compatible:" not in client.get("/personas/new").text
