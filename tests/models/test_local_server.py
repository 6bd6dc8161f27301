"""OpenAI-compatible servers: base URLs, model lists and failures, over a fake transport."""

from __future__ import annotations

import httpx2
import pytest

from tests.fakes import FakeClock, FakeServer
from thinktank.errors import InvalidRequest, NetworkModelsForbidden, ProviderUnavailable, Unauthorized
from thinktank.models.local_server import (
    OLLAMA_DEFAULT_URL,
    InvalidServerUrl,
    ServerCatalog,
    list_server_models,
    normalize_base_url,
)

MODELS = {"object": "list", "data": [{"id": "llama3.2:1b", "object": "model"}, {"id": "qwen2.5:0.5b"}]}


@pytest.mark.parametrize(
    ("typed", "base"),
    [
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434/v1"),
        ("localhost:1234/", "http://localhost:1234/v1"),
        ("https://gpu.example.org/vllm/v1/", "https://gpu.example.org/vllm/v1"),
    ],
)
def test_base_urls_are_normalised(typed: str, base: str) -> None:
    assert normalize_base_url(typed) == base


@pytest.mark.parametrize(
    "typed", ["", "ftp://host/v1", "http://", "http://host:99999", "http://a b", "http://h?x=1"]
)
def test_bad_urls_are_refused_readably(typed: str) -> None:
    with pytest.raises(InvalidServerUrl):
        normalize_base_url(typed)


async def test_the_model_list_is_read_with_the_key() -> None:
    server = FakeServer().queue(httpx2.Response(200, json=MODELS))
    names = await list_server_models("http://h/v1", api_key="secret-key", http_client=server.client())
    assert names == ["llama3.2:1b", "qwen2.5:0.5b"]
    assert str(server.requests[0].url) == "http://h/v1/models"
    assert server.requests[0].headers["authorization"] == "Bearer secret-key"


async def test_failures_say_what_is_wrong() -> None:
    def refused(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    server = FakeServer().queue(
        refused,
        httpx2.Response(401, json={"error": "no"}),
        httpx2.Response(404, text="not found"),
        httpx2.Response(200, text="<html>a router page</html>"),
    )
    client = server.client()
    with pytest.raises(ProviderUnavailable, match="could not reach http://h/v1"):
        await list_server_models("http://h/v1", api_key=None, http_client=client)
    with pytest.raises(Unauthorized, match="check the key"):
        await list_server_models("http://h/v1", api_key="k", http_client=client)
    with pytest.raises(InvalidRequest, match="answered 404"):
        await list_server_models("http://h/v1", api_key=None, http_client=client)
    with pytest.raises(InvalidRequest, match="not an OpenAI-compatible API"):
        await list_server_models("http://h/v1", api_key=None, http_client=client)


async def test_the_catalog_caches_and_a_silent_server_offers_nothing() -> None:
    clock = FakeClock()
    server = FakeServer().queue(httpx2.Response(200, json=MODELS), httpx2.Response(503))
    catalog = ServerCatalog(server.client(), clock=clock.monotonic)
    assert await catalog.models("http://h/v1", api_key=None) == ["llama3.2:1b", "qwen2.5:0.5b"]
    assert await catalog.models("http://h/v1", api_key=None) == ["llama3.2:1b", "qwen2.5:0.5b"]
    assert len(server.requests) == 1
    clock.advance(31)
    assert await catalog.models("http://h/v1", api_key=None) == []


async def test_ollama_is_looked_for_on_its_default_port() -> None:
    server = FakeServer().queue(httpx2.Response(200, json=MODELS))
    assert await ServerCatalog(server.client()).detect_ollama() == ["llama3.2:1b", "qwen2.5:0.5b"]
    assert str(server.requests[0].url) == f"{OLLAMA_DEFAULT_URL}/models"


async def test_without_a_fake_transport_the_network_switch_applies() -> None:
    # Tests run with real network calls forbidden (tests/conftest.py): no request leaves.
    with pytest.raises(NetworkModelsForbidden):
        await list_server_models(OLLAMA_DEFAULT_URL, api_key=None, http_client=None)
    assert await ServerCatalog().detect_ollama() == []
