"""Settings → local model server: save, check and remove my OpenAI-compatible server, or take the
Ollama found on this machine; answered with the section's HTML (errors next to the URL field)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from thinktank.errors import ProviderFailure, UserError
from thinktank.presenters.deps import CurrentUser, Service
from thinktank.presenters.local_server import local_server_status, local_servers
from thinktank.web.forms import FORM_ERRORS, FieldErrors
from thinktank.web.render import render

router = APIRouter(prefix="/ui", include_in_schema=False)


async def server_section(
    request: Request, service: Service, user: str, *, errors: FieldErrors, typed: str = ""
) -> Response:
    status = await local_server_status(service, user)
    return render(
        request,
        "_local_server.html",
        status_code=FORM_ERRORS if errors else 200,
        status=status,
        errors=errors,
        typed=typed,
    )


@router.post("/local-server", response_class=HTMLResponse)
async def save_server(request: Request, service: Service, user: CurrentUser) -> Response:
    form = await request.form()
    base_url, api_key = str(form.get("base_url") or ""), str(form.get("api_key") or "")
    try:
        await local_servers(service).save(user_id=user, base_url=base_url, api_key=api_key or None)
    except (UserError, ProviderFailure) as error:
        return await server_section(request, service, user, errors={"base_url": str(error)}, typed=base_url)
    return await server_section(request, service, user, errors={})


@router.delete("/local-server", response_class=HTMLResponse)
async def remove_server(request: Request, service: Service, user: CurrentUser) -> Response:
    await local_servers(service).remove(user_id=user)
    return await server_section(request, service, user, errors={})
