"""My preferences (retention, analytics), everything I own as JSON, and deleting my account."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from thinktank.accounts import retention
from thinktank.api.deps import CurrentUser, Service

router = APIRouter(tags=["account"])


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data_retention: Literal["none", "session", "permanent"] = Field(
        description="none: nothing stored beyond the live session; session: deleted when it ends; permanent"
    )
    delete_after_days: int | None = Field(
        None, ge=1, le=3650, description="Purge conversations older than this"
    )
    allow_analytics: bool = Field(False, description="No analytics are collected when off (the default)")


@router.get("/preferences", response_model=Preferences)
async def get_preferences(service: Service, user: CurrentUser) -> Preferences:
    async with service.db.session() as session:
        row = await retention.preferences(session, user_id=user)
    return Preferences(
        data_retention=row.data_retention,  # type: ignore[arg-type]
        delete_after_days=row.delete_after_days,
        allow_analytics=row.allow_analytics,
    )


@router.put("/preferences", response_model=Preferences)
async def set_preferences(body: Preferences, service: Service, user: CurrentUser) -> Preferences:
    async with service.db.session() as session:
        await retention.set_preferences(session, user_id=user, **body.model_dump())
    return body


@router.get("/account/export")
async def export_account(service: Service, user: CurrentUser) -> dict[str, Any]:
    async with service.db.session() as session:
        return await retention.export_account(session, user_id=user)


@router.delete("/account", status_code=204)
async def delete_account(service: Service, user: CurrentUser) -> Response:
    """Every row I own is removed: conversations, messages, costs, personas, keys, tokens, usage."""
    await service.delete_account(user_id=user)
    return Response(status_code=204)
