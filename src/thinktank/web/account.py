"""Settings → API keys and preferences: htmx form posts answered with the section's HTML, every
problem next to its field (a key the provider rejects, one it could not check, a bad number)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from thinktank.accounts.keys import KEYED_PROVIDERS
from thinktank.errors import (
    PermanentFailure,
    ProviderFailure,
    ProviderUnreachable,
    TransientFailure,
    UserError,
)
from thinktank.presenters.deps import AccountDataDep, CurrentUser, Service
from thinktank.presenters.keys import keystore_of, my_keys
from thinktank.web.forms import FORM_ERRORS, FieldErrors
from thinktank.web.render import render

log = logging.getLogger(__name__)
router = APIRouter(prefix="/ui", include_in_schema=False)


async def _keys(
    request: Request, service: Service, user: str, *, errors: FieldErrors, status: int, chosen: str = ""
) -> Response:
    return render(
        request,
        "_keys.html",
        status_code=status,
        keys=await my_keys(service, user),
        providers=KEYED_PROVIDERS,
        errors=errors,
        chosen=chosen,
    )


def key_problem(error: Exception, provider: str) -> str:
    """Why a key was not stored, in the user's words. The key store may report a provider's answer
    itself or wrapped in a UserError; anything else is our side failing, said as such."""
    if isinstance(error, ProviderUnreachable):
        return str(error)
    failure = error if isinstance(error, ProviderFailure) else error.__context__
    if isinstance(failure, TransientFailure):
        return (
            f"{provider} could not be reached to check the key ({type(failure).__name__}); "
            "nothing was stored, try again in a moment"
        )
    if isinstance(failure, PermanentFailure):
        return f"{provider} rejected this key: check that it is complete, active and for {provider}"
    if isinstance(failure, ProviderFailure):
        return f"{provider} could not check the key: {failure}"
    if isinstance(error, UserError):
        return str(error)
    return "the key could not be checked or stored because of a problem on our side; try again"


@router.post("/keys", response_class=HTMLResponse)
async def add_key(request: Request, service: Service, user: CurrentUser) -> Response:
    form = await request.form()
    provider, api_key = str(form.get("provider") or ""), str(form.get("api_key") or "").strip()
    try:
        if len(api_key) < 8:
            raise UserError("paste the whole key: it is longer than 8 characters")
        await keystore_of(service).add_user_key(user_id=user, provider=provider, api_key=api_key)
    except Exception as error:  # whatever goes wrong, the form says so at the field: never a 500
        if not isinstance(error, (UserError, ProviderFailure, ProviderUnreachable)):
            log.exception("storing a %s key failed", provider)
        problem = key_problem(error, provider)
        return await _keys(
            request, service, user, errors={"api_key": problem}, status=FORM_ERRORS, chosen=provider
        )
    return await _keys(request, service, user, errors={}, status=200)


@router.delete("/keys/{provider}", response_class=HTMLResponse)
async def remove_key(request: Request, provider: str, service: Service, user: CurrentUser) -> Response:
    await keystore_of(service).remove_user_key(user_id=user, provider=provider)
    return await _keys(request, service, user, errors={}, status=200)


@router.post("/preferences", response_class=HTMLResponse)
async def save_preferences(request: Request, data: AccountDataDep, user: CurrentUser) -> Response:
    form = await request.form()
    retention_choice = str(form.get("data_retention") or "")
    days = str(form.get("delete_after_days") or "").strip()
    errors: FieldErrors = {}
    if retention_choice not in ("none", "session", "permanent"):
        errors["data_retention"] = "choose none, session or permanent"
    if days and (not days.isdigit() or not 1 <= int(days) <= 3650):
        errors["delete_after_days"] = "a whole number of days from 1 to 3650, or empty to keep"
    if not errors:
        await data.set_preferences(
            user_id=user,
            data_retention=retention_choice,
            delete_after_days=int(days) if days else None,
            allow_analytics=form.get("allow_analytics") == "on",
        )
    saved = await data.preferences(user_id=user)
    return render(
        request,
        "_preferences.html",
        preferences=saved,
        errors=errors,
        saved=not errors,
    )
