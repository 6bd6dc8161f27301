"""OpenAI-compatible servers on the user's own machine or network (Ollama, LM Studio, llama.cpp's
server, vLLM): check a base URL, list its models (`GET {base}/models`), and find an Ollama on its
default port. Models on such a server are `openai-compatible:NAME` ids.

Only this module talks to a server's model list; the chat itself goes through pydantic-ai's OpenAI
adapter like any cloud model (`models.providers`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx2

from thinktank.errors import (
    InvalidRequest,
    NetworkModelsForbidden,
    ProviderFailure,
    ProviderTimeout,
    ProviderUnavailable,
    Unauthorized,
    UserError,
)
from thinktank.models.guard import check_network_allowed
from thinktank.models.ids import ModelId, ProviderName

PROVIDER: ProviderName = "openai-compatible"
OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434/v1"
CHECK_TIMEOUT_SECONDS = 5.0
DETECT_TIMEOUT_SECONDS = 0.5
CACHE_SECONDS = 30.0
MAX_URL_CHARS = 300


class InvalidServerUrl(UserError):
    """The text given is not an http(s) URL of a server."""


def normalize_base_url(text: str) -> str:
    """`http://host:port` or `http://host:port/v1` (or any path) -> the API base, without a
    trailing slash. A bare host and port gets `/v1`, where all four servers serve the API."""
    raw = text.strip()
    if not raw:
        raise InvalidServerUrl("enter the server's URL, e.g. http://127.0.0.1:11434 for Ollama")
    if len(raw) > MAX_URL_CHARS:
        raise InvalidServerUrl(f"a server URL is at most {MAX_URL_CHARS} characters")
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https"):
        raise InvalidServerUrl(f"the URL must start with http:// or https://, not {parts.scheme}://")
    try:
        port = parts.port
    except ValueError:
        raise InvalidServerUrl(f"{text.strip()!r} has an invalid port") from None
    if not parts.hostname or any(c.isspace() for c in raw):
        raise InvalidServerUrl(f"{text.strip()!r} is not a server URL; e.g. http://127.0.0.1:1234/v1")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidServerUrl("give the server's base URL only: no query, fragment or credentials")
    del port
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def model_ids(names: list[str]) -> list[ModelId]:
    return [ModelId(PROVIDER, name) for name in names]


async def list_server_models(
    base_url: str,
    *,
    api_key: str | None,
    http_client: httpx2.AsyncClient | None,
    wait: float = CHECK_TIMEOUT_SECONDS,
) -> list[str]:
    """The model names the server offers; our ProviderFailure tree when it cannot say. Without an
    injected client (a fake transport in tests) this is a real request, so the network switch
    applies."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    where = f"{base_url.rstrip('/')}/models"
    try:
        if http_client is None:
            check_network_allowed(where)
            async with httpx2.AsyncClient() as client:
                response = await client.get(where, headers=headers, timeout=wait)
        else:
            response = await http_client.get(where, headers=headers, timeout=wait)
    except httpx2.TimeoutException:
        raise ProviderTimeout(f"{where} did not answer within {wait:g} s", provider=PROVIDER) from None
    except httpx2.HTTPError as exc:
        raise ProviderUnavailable(
            f"could not reach {base_url}: {type(exc).__name__}; is the server running?", provider=PROVIDER
        ) from None
    if response.status_code in (401, 403):
        raise Unauthorized(
            f"{base_url} refused the request ({response.status_code}): check the key",
            provider=PROVIDER,
            status_code=response.status_code,
        )
    if response.status_code != 200:
        raise InvalidRequest(
            f"GET {where} answered {response.status_code}: not an OpenAI-compatible API at this URL",
            provider=PROVIDER,
            status_code=response.status_code,
        )
    try:
        data = response.json()["data"]
        names = sorted({str(item["id"]) for item in data if str(item.get("id", "")).strip()})
    except (ValueError, KeyError, TypeError):
        raise InvalidRequest(
            f"GET {where} did not answer with a model list: not an OpenAI-compatible API", provider=PROVIDER
        ) from None
    return names


@dataclass
class ServerCatalog:
    """Model lists of servers, kept for a short while so pickers do not ask on every render, and
    a failed server counts as offering nothing (the pickers still render)."""

    http_client: httpx2.AsyncClient | None = None
    clock: Callable[[], float] = time.monotonic
    _cache: dict[tuple[str, str | None], tuple[float, list[str]]] = field(default_factory=dict)

    def _now(self) -> float:
        return self.clock()

    async def models(
        self, base_url: str, *, api_key: str | None, wait: float = CHECK_TIMEOUT_SECONDS
    ) -> list[str]:
        key = (base_url, api_key)
        cached = self._cache.get(key)
        if cached is not None and self._now() - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            names = await list_server_models(
                base_url, api_key=api_key, http_client=self.http_client, wait=wait
            )
        except (ProviderFailure, NetworkModelsForbidden):
            names = []
        self._cache[key] = (self._now(), names)
        return names

    async def check(self, base_url: str, *, api_key: str | None) -> list[str]:
        """Ask now (no cache), raising what went wrong; remember the answer."""
        names = await list_server_models(base_url, api_key=api_key, http_client=self.http_client)
        self._cache[(base_url, api_key)] = (self._now(), names)
        return names

    async def detect_ollama(self) -> list[str]:
        """The models of an Ollama on its default port, or [] when none answers (quickly)."""
        return await self.models(OLLAMA_DEFAULT_URL, api_key=None, wait=DETECT_TIMEOUT_SECONDS)

    def forget(self, base_url: str) -> None:
        for key in [k for k in self._cache if k[0] == base_url]:
            del self._cache[key]
