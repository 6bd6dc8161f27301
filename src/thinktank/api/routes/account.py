"""My preferences (retention, analytics), everything I own as JSON, and deleting my account."""

from __future__ import annotations

from fastapi import APIRouter, Response

from thinktank.presenters.account import AccountExport, Preferences, preferences_of
from thinktank.presenters.deps import AccountDataDep, CurrentUser, Service

router = APIRouter(tags=["account"])


@router.get("/preferences", response_model=Preferences)
async def get_preferences(data: AccountDataDep, user: CurrentUser) -> Preferences:
    return await preferences_of(data, user)


@router.put("/preferences", response_model=Preferences)
async def set_preferences(body: Preferences, data: AccountDataDep, user: CurrentUser) -> Preferences:
    await data.set_preferences(user_id=user, **body.model_dump())
    return body


@router.get("/account/export", response_model=AccountExport)
async def export_account(data: AccountDataDep, user: CurrentUser) -> AccountExport:
    return AccountExport.model_validate(await data.export(user_id=user))


@router.delete("/account", status_code=204)
async def delete_account(service: Service, user: CurrentUser) -> Response:
    """Every row I own is removed: conversations, messages, costs, personas, keys, tokens, usage."""
    await service.delete_account(user_id=user)
    return Response(status_code=204)
