"""My local server: an OpenAI-compatible base URL (Ollama, LM Studio, llama.cpp server, vLLM) with an
optional key, checked by listing its models, stored encrypted like an API key; and an Ollama found
on its default port, offered for use."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from thinktank.accounts.local_servers import LocalServers, ServerInfo
from thinktank.api.deps import CurrentUser, Service
from thinktank.api.errors import error_body
from thinktank.api.routes.keys import keystore_of
from thinktank.conversations import ConversationService
from thinktank.errors import ProviderFailure, TransientFailure, Unauthorized
from thinktank.models.local_server import OLLAMA_DEFAULT_URL, PROVIDER

router = APIRouter(tags=["local server"])


class ServerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(min_length=1, max_length=300, description="e.g. http://127.0.0.1:11434/v1")
    api_key: str | None = Field(None, max_length=400, description="Only if the server asks for one")


class ServerPublic(BaseModel):
    base_url: str
    has_key: bool
    models: list[str] = Field(description="As model ids: openai-compatible:NAME")
    reachable: bool


class DetectedServer(BaseModel):
    base_url: str
    models: list[str]


class LocalServerStatus(BaseModel):
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


def failure_response(failure: ProviderFailure) -> JSONResponse:
    """A server that does not answer is 503 (try again when it runs); one that answers wrongly is
    the caller's URL or key to fix (400)."""
    if isinstance(failure, TransientFailure):
        return JSONResponse(error_body("server_unreachable", str(failure)), status_code=503)
    code = "key_rejected" if isinstance(failure, Unauthorized) else "not_openai_compatible"
    return JSONResponse(error_body(code, str(failure)), status_code=400)


async def local_server_status(service: ConversationService, user: str) -> LocalServerStatus:
    mine = await local_servers(service).current(user_id=user)
    detected = await service.factory.catalog.detect_ollama()
    already = mine is not None and mine.base_url == OLLAMA_DEFAULT_URL
    return LocalServerStatus(
        server=server_public(mine) if mine is not None else None,
        ollama=DetectedServer(base_url=OLLAMA_DEFAULT_URL, models=[f"{PROVIDER}:{m}" for m in detected])
        if detected and not already
        else None,
    )


@router.get("/local-server", response_model=LocalServerStatus)
async def get_local_server(service: Service, user: CurrentUser) -> LocalServerStatus:
    return await local_server_status(service, user)


@router.put("/local-server", response_model=ServerPublic, responses={503: {"description": "Unreachable"}})
async def put_local_server(
    body: ServerIn, service: Service, user: CurrentUser
) -> ServerPublic | JSONResponse:
    """Checked first (`GET {base_url}/models` must answer with a model list); replaces my previous one."""
    try:
        info = await local_servers(service).save(user_id=user, base_url=body.base_url, api_key=body.api_key)
    except ProviderFailure as failure:
        return failure_response(failure)
    return server_public(info)


@router.delete("/local-server", status_code=204)
async def delete_local_server(service: Service, user: CurrentUser) -> Response:
    await local_servers(service).remove(user_id=user)
    return Response(status_code=204)
