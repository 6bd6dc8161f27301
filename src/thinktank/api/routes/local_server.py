"""My local server: an OpenAI-compatible base URL (Ollama, LM Studio, llama.cpp server, vLLM) with an
optional key, checked by listing its models, stored encrypted like an API key; and an Ollama found
on its default port, offered for use."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from thinktank.api.errors import error_body
from thinktank.errors import ProviderFailure, TransientFailure, Unauthorized
from thinktank.presenters.deps import CurrentUser, Service
from thinktank.presenters.local_server import (
    LocalServerStatus,
    ServerPublic,
    local_server_status,
    local_servers,
    server_public,
)

router = APIRouter(tags=["local server"])


class ServerIn(BaseModel):
    """An OpenAI-compatible server (Ollama, LM Studio, llama.cpp, vLLM) to check and store."""

    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(min_length=1, max_length=300, description="e.g. http://127.0.0.1:11434/v1")
    api_key: str | None = Field(None, max_length=400, description="Only if the server asks for one")


def failure_response(failure: ProviderFailure) -> JSONResponse:
    """A server that does not answer is 503 (try again when it runs); one that answers wrongly is
    the caller's URL or key to fix (400)."""
    if isinstance(failure, TransientFailure):
        return JSONResponse(error_body("server_unreachable", str(failure)), status_code=503)
    code = "key_rejected" if isinstance(failure, Unauthorized) else "not_openai_compatible"
    return JSONResponse(error_body(code, str(failure)), status_code=400)


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
