"""Users and personal API tokens (multi-user mode).

A token is `tt_` + 32 random bytes; only its SHA-256 is stored (a token has far too much entropy
for guessing to matter, so a keyed hash adds nothing), it is shown once, and it can be revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.errors import UnknownIdError, UserError
from thinktank.store.db import Database
from thinktank.store.scope import system_scope
from thinktank.store.tables import ApiToken, User, UserPreferences

TOKEN_PREFIX = "tt_"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An API token just issued; the secret is shown this once and only its hash is kept."""

    id: str
    name: str
    token: str
    """The secret itself: shown to the user this once."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(
    session: AsyncSession, *, email: str, tier: str = "free", display_name: str = ""
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise UserError(f"{email!r} is not an email address")
    if await session.scalar(select(User).where(User.email == email)) is not None:
        raise UserError(f"a user with email {email} already exists")
    user = User(email=email, display_name=display_name or email.split("@")[0], tier=tier)
    session.add(user)
    await session.flush()
    session.add(UserPreferences(user_id=user.id))
    await session.commit()
    return user


async def issue_token(session: AsyncSession, *, user_id: str, name: str) -> IssuedToken:
    name = name.strip()
    if not name or len(name) > 120:
        raise UserError("a token needs a name of 1 to 120 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user_id, name=name, token_hash=_hash(token), prefix=token[:10])
    session.add(row)
    await session.commit()
    return IssuedToken(row.id, name, token)


async def list_tokens(session: AsyncSession, *, user_id: str) -> list[ApiToken]:
    rows = await session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at)
    )
    return list(rows)


async def revoke_token(session: AsyncSession, *, user_id: str, token_id: str) -> None:
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    if not getattr(result, "rowcount", 0):
        raise UnknownIdError("token", token_id)
    await session.commit()


async def user_for_token(session: AsyncSession, token: str) -> str | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    row.last_used = datetime.now(UTC)
    await session.commit()
    return row.user_id


class Users:
    """Users and their API tokens for the API and the pages: each call opens its own session."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: str) -> User | None:
        async with self._db.session() as session:
            return await session.get(User, user_id)

    async def issue_token(self, *, user_id: str, name: str) -> IssuedToken:
        async with self._db.session() as session:
            return await issue_token(session, user_id=user_id, name=name)

    async def list_tokens(self, *, user_id: str) -> list[ApiToken]:
        async with self._db.session() as session:
            return await list_tokens(session, user_id=user_id)

    async def revoke_token(self, *, user_id: str, token_id: str) -> None:
        async with self._db.session() as session:
            await revoke_token(session, user_id=user_id, token_id=token_id)

    async def user_for_token(self, token: str) -> str | None:
        """Whose token it is: a lookup across users, so outside any one user's scope."""
        with system_scope():
            async with self._db.session() as session:
                return await user_for_token(session, token)
