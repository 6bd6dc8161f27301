"""My preferences and the export of everything I own, as the API answers them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinktank.accounts.retention import AccountData


class Preferences(BaseModel):
    """What is kept of my conversations and for how long, and my analytics choice."""

    model_config = ConfigDict(extra="forbid")
    data_retention: Literal["none", "session", "permanent"] = Field(
        description="none: nothing stored beyond the live session; session: deleted when it ends; permanent"
    )
    delete_after_days: int | None = Field(
        None, ge=1, le=3650, description="Purge conversations older than this"
    )
    allow_analytics: bool = Field(False, description="No analytics are collected when off (the default)")


async def preferences_of(data: AccountData, user_id: str) -> Preferences:
    row = await data.preferences(user_id=user_id)
    return Preferences(
        data_retention=row.data_retention,  # type: ignore[arg-type]
        delete_after_days=row.delete_after_days,
        allow_analytics=row.allow_analytics,
    )


class ExportedUser(BaseModel):
    """Who the export belongs to."""

    id: str
    email: str | None
    display_name: str
    tier: str


class ExportedKey(BaseModel):
    """A stored API key, by provider only: never the key."""

    provider: str
    is_valid: bool


class ExportedToken(BaseModel):
    """A personal API token, by name and prefix only: never the token."""

    name: str
    prefix: str


class AccountExport(BaseModel):
    """Everything a user owns (`GET /account/export`); keys by provider only, never their secret."""

    model_config = ConfigDict(populate_by_name=True)
    # `schema` would shadow a BaseModel attribute: the field has another name, the JSON this one.
    format: str = Field(alias="schema", description="thinktank.account-export")
    version: int
    user: ExportedUser
    preferences: Preferences
    personas: list[dict[str, Any]]
    api_keys: list[ExportedKey]
    api_tokens: list[ExportedToken]
    conversations: list[dict[str, Any]] = Field(
        description="Each with its members, messages and totals, as in the transcript export"
    )
