"""Users and their own personas: the local user, a user's plan, and the personas a user wrote."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.domain import Persona
from thinktank.errors import UnknownIdError, UserError
from thinktank.store.tables import User, UserPersona, UserPreferences

LOCAL_USER_ID = "00000000-0000-0000-0000-000000000001"


class NotFound(UnknownIdError):
    """A row that does not exist, or belongs to another user (the two look the same)."""


async def ensure_local_user(session: AsyncSession) -> str:
    if await session.get(User, LOCAL_USER_ID) is None:
        # The person running ThinkTank on their own machine: their own keys, no plan limits.
        session.add(User(id=LOCAL_USER_ID, display_name="You", tier="local"))
        session.add(UserPreferences(user_id=LOCAL_USER_ID))
        await session.commit()
    return LOCAL_USER_ID


async def user_tier(session: AsyncSession, *, user_id: str) -> str:
    tier = await session.scalar(select(User.tier).where(User.id == user_id))
    if tier is None:
        raise NotFound("user", user_id)
    return tier


async def list_user_personas(session: AsyncSession, *, user_id: str) -> list[Persona]:
    rows = await session.scalars(
        select(UserPersona).where(UserPersona.user_id == user_id).order_by(UserPersona.slug)
    )
    return [Persona.model_validate(row.data) for row in rows]


async def get_user_persona(session: AsyncSession, *, user_id: str, slug: str) -> UserPersona:
    row = await session.scalar(
        select(UserPersona).where(UserPersona.user_id == user_id, UserPersona.slug == slug)
    )
    if row is None:
        raise NotFound("persona", slug)
    return row


async def save_user_persona(session: AsyncSession, *, user_id: str, persona: Persona, create: bool) -> None:
    row = await session.scalar(
        select(UserPersona).where(UserPersona.user_id == user_id, UserPersona.slug == persona.id)
    )
    if create and row is not None:
        raise UserError(f"you already have a persona with id {persona.id!r}")
    if not create and row is None:
        raise NotFound("persona", persona.id)
    row = row or UserPersona(user_id=user_id, slug=persona.id)
    row.category, row.name, row.data = persona.category, persona.name, persona.model_dump(mode="json")
    session.add(row)
    await session.commit()


async def delete_user_persona(session: AsyncSession, *, user_id: str, slug: str) -> None:
    row = await get_user_persona(session, user_id=user_id, slug=slug)
    await session.delete(row)
    await session.commit()
