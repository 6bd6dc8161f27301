"""A key is checked with each provider's cheapest real call (list models), on a fake transport."""

from __future__ import annotations

import httpx2
import pytest

from tests.fakes import FakeServer
from thinktank.accounts.keys import validate_with_provider
from thinktank.errors import ProviderUnavailable, Unauthorized
from thinktank.models.ids import ProviderName

MODELS = {
    "openai": {
        "object": "list",
        "data": [{"id": "gpt-4.1-mini", "object": "model", "created": 1, "owned_by": "openai"}],
    },
    "anthropic": {
        "data": [
            {
                "id": "claude-3-7-sonnet-20250219",
                "type": "model",
                "display_name": "Claude",
                "created_at": "2025-02-19T00:00:00Z",
            }
        ],
        "has_more": False,
        "first_id": "claude-3-7-sonnet-20250219",
        "last_id": "claude-3-7-sonnet-20250219",
    },
    "google": {"models": [{"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash"}]},
}
HOSTS = {
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "google": "generativelanguage.googleapis.com",
}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
async def test_a_good_key_passes_and_the_key_is_what_is_sent(
    provider: ProviderName, server: FakeServer
) -> None:
    server.queue(httpx2.Response(200, json=MODELS[provider]))
    await validate_with_provider(provider, "key-under-test-1234", http_client=server.client())
    request = server.requests[0]
    assert request.url.host == HOSTS[provider]
    assert "models" in request.url.path
    sent = " ".join(request.headers.values()) + str(request.url)
    assert "key-under-test-1234" in sent


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
async def test_a_rejected_key_is_unauthorized(provider: ProviderName, server: FakeServer) -> None:
    body = {
        "error": {
            "code": 401,
            "message": "invalid key",
            "status": "UNAUTHENTICATED",
            "type": "authentication_error",
        }
    }
    server.queue(httpx2.Response(401, json=body))
    with pytest.raises(Unauthorized):
        await validate_with_provider(provider, "key-under-test-1234", http_client=server.client())


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
async def test_a_provider_whose_socket_fails_is_unavailable_not_a_crash(provider: ProviderName) -> None:
    """A bare socket error (no HTTP client error around it, as an SDK may let through) is the
    provider being out of reach: a transient failure the user can retry, not our fault."""

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise ConnectionRefusedError(111, "Connection refused")

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(refuse))
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        await validate_with_provider(provider, "key-under-test-1234", http_client=client)
