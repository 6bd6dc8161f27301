"""My local model server and an Ollama found on this machine, as the API and the settings page
show them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from thinktank.accounts.local_servers import LocalServers, ServerInfo
from thinktank.conversations import ConversationService
from thinktank.models.local_server import OLLAMA_DEFAULT_URL, PROVIDER
from thinktank.presenters.keys import keystore_of


class ServerPublic(BaseModel):
    """My local model server: its URL, whether it has a key, the models it lists."""

    base_url: str
    has_key: bool
    models: list[str] = Field(description="As model ids: openai-compatible:NAME")
    reachable: bool


class DetectedServer(BaseModel):
    """An Ollama found on its default port, offered for use."""

    base_url: str
    models: list[str]


class LocalServerStatus(BaseModel):
    """My server (if any) and an Ollama found on this machine (if any)."""

    server: ServerPublic | None
    ollama: DetectedServer | None = Field(description="An Ollama answering on its default port")


def local_servers(service: ConversationService) -> LocalServers:
    return LocalServers(keystore_of(service), service.factory.catalog)


def server_public(info: ServerInfo) -> ServerPublic:
    return ServerPublic(
        base_url=info.base_url,
        has_key=info.has_key,
        models=[f"{PROVIDER}:{m}" for m in info.models],
        reachable=bool(info.models),
    )


async def local_server_status(service: ConversationService, user_id: str) -> LocalServerStatus:
    """Mine, and the Ollama on its default port unless mine already is that one."""
    mine = await local_servers(service).current(user_id=user_id)
    detected = await service.factory.catalog.detect_ollama()
    already = mine is not None and mine.base_url == OLLAMA_DEFAULT_URL
    return LocalServerStatus(
        server=server_public(mine) if mine is not None else None,
        ollama=DetectedServer(base_url=OLLAMA_DEFAULT_URL, models=[f"{PROVIDER}:{m}" for m in detected])
        if detected and not already
        else None,
    )
