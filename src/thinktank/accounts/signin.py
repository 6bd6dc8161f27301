"""Magic-link sign-in and browser sessions (multi-user mode).

A sign-in link carries `RANDOM.SIGNATURE`: the signature (HMAC under THINKTANK_SECRET_KEY) rejects
forgeries without touching the database; the random part is stored only as a hash, expires after
15 minutes and works once (one conditional UPDATE marks it used). A browser session is a random
cookie (HttpOnly, SameSite=Lax, Secure) whose hash is stored with a CSRF token; state-changing
requests authenticated by the cookie must echo that CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import smtplib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.accounts.tokens import create_user
from thinktank.errors import TooManyAttempts, UserError
from thinktank.store.db import Database
from thinktank.store.scope import system_scope
from thinktank.store.tables import BrowserSession, LoginToken, User

log = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(days=30)


class InvalidLink(UserError):
    """A sign-in link that is unknown, used already or expired."""


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


class SlidingWindow:
    """At most `limit` events per key in any `window` seconds (in-process; Redis at scale)."""

    def __init__(self, *, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str, *, what: str) -> None:
        now = self._clock()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            retry = events[0] + self.window - now
            raise TooManyAttempts(f"too many {what}; try again in {int(retry) + 1} s", retry_after=retry)
        events.append(now)


class Mailer(Protocol):
    """Sends the sign-in link: by SMTP in production, to the log in development."""

    async def send_sign_in_link(self, email: str, link: str) -> None: ...


class LogMailer:
    """Development: the link goes to the server log instead of an inbox."""

    async def send_sign_in_link(self, email: str, link: str) -> None:
        log.warning("development sign-in link for %s (no SMTP configured): %s", email, link)


class SmtpMailer:
    """Sends sign-in links through the SMTP server of THINKTANK_SMTP_URL."""

    def __init__(self, url: str, *, sender: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise UserError("THINKTANK_SMTP_URL must look like smtp://user:password@host:587")
        self._parts, self._sender = parts, sender

    async def send_sign_in_link(self, email: str, link: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = (
            self._sender,
            email,
            "Your ThinkTank sign-in link",
        )
        message.set_content(f"Sign in to ThinkTank (the link works once, for 15 minutes):\n\n{link}\n")
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        parts = self._parts
        client = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with client(
            parts.hostname or "", parts.port or (465 if parts.scheme == "smtps" else 587), timeout=30
        ) as smtp:
            if parts.scheme == "smtp":
                smtp.starttls()
            if parts.username:
                smtp.login(parts.username, parts.password or "")
            smtp.send_message(message)


@dataclass(frozen=True, slots=True)
class NewSession:
    """A browser session just opened: its cookie token, its CSRF token and when it ends."""

    token: str
    csrf_token: str
    user_id: str
    expires_at: datetime


class SignIn:
    """Passwordless sign-in: a one-time link by email, exchanged for a browser session."""

    def __init__(
        self, *, secret: str, mailer: Mailer, public_url: str, now: Callable[[], datetime] | None = None
    ):
        self._secret = secret
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")
        self._now = now or (lambda: datetime.now(UTC))
        self.link_requests = SlidingWindow(limit=5, window=900)
        self.attempts = SlidingWindow(limit=30, window=900)

    async def send_link(self, session: AsyncSession, *, email: str, client: str) -> None:
        email = email.strip().lower()
        if "@" not in email or len(email) > 320:
            raise UserError(f"{email!r} is not an email address")
        self.link_requests.hit(f"email:{email}", what="sign-in links for this address")
        self.link_requests.hit(f"client:{client}", what="sign-in requests from here")
        random_part = secrets.token_urlsafe(32)
        token = f"{random_part}.{_sign(self._secret, random_part)}"
        session.add(
            LoginToken(email=email, token_hash=_hash(random_part), expires_at=self._now() + LINK_LIFETIME)
        )
        await session.commit()
        await self.mailer.send_sign_in_link(
            email, f"{self.public_url}/api/v1/auth/magic-link/verify?token={token}"
        )

    async def redeem(self, session: AsyncSession, *, token: str, client: str) -> NewSession:
        self.attempts.hit(f"client:{client}", what="sign-in attempts from here")
        random_part, _, signature = token.partition(".")
        if not random_part or not hmac.compare_digest(signature, _sign(self._secret, random_part)):
            raise InvalidLink("this sign-in link is not valid")
        now = self._now()
        used = await session.execute(
            update(LoginToken)
            .where(
                LoginToken.token_hash == _hash(random_part),
                LoginToken.used_at.is_(None),
                LoginToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(LoginToken.email)
        )
        email = used.scalar_one_or_none()
        if email is None:
            await session.rollback()
            raise InvalidLink("this sign-in link has expired or was already used; ask for a new one")
        await session.commit()
        user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            user = await create_user(session, email=email)
        return await self.open_session(session, user_id=user.id)

    async def open_session(self, session: AsyncSession, *, user_id: str) -> NewSession:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = self._now() + SESSION_LIFETIME
        session.add(
            BrowserSession(user_id=user_id, token_hash=_hash(token), csrf_token=csrf, expires_at=expires)
        )
        await session.commit()
        return NewSession(token, csrf, user_id, expires)

    async def session_user(self, session: AsyncSession, *, token: str) -> BrowserSession | None:
        row = await session.scalar(
            select(BrowserSession).where(
                BrowserSession.token_hash == _hash(token), BrowserSession.revoked_at.is_(None)
            )
        )
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        return row if expires > self._now() else None

    async def close_session(self, session: AsyncSession, *, token: str) -> str | None:
        row = await self.session_user(session, token=token)
        if row is None:
            return None
        row.revoked_at = self._now()
        await session.commit()
        return row.user_id


class BrowserSignIn:
    """`SignIn` for the API's routes: each step in its own session, outside any one user's scope
    (before sign-in there is no user yet; a session cookie is looked up across users)."""

    def __init__(self, signin: SignIn, db: Database) -> None:
        self.signin = signin
        self._db = db

    @property
    def attempts(self) -> SlidingWindow:
        return self.signin.attempts

    async def send_link(self, *, email: str, client: str) -> None:
        with system_scope():
            async with self._db.session() as session:
                await self.signin.send_link(session, email=email, client=client)

    async def redeem(self, *, token: str, client: str) -> NewSession:
        """Finds or creates the user behind the link and opens their browser session."""
        with system_scope():
            async with self._db.session() as session:
                return await self.signin.redeem(session, token=token, client=client)

    async def sign_in(self, *, email: str) -> NewSession:
        """A browser session for an email a sign-in provider has verified (a new user on first use)."""
        with system_scope():
            async with self._db.session() as session:
                user = await session.scalar(select(User).where(User.email == email))
                if user is None:
                    user = await create_user(session, email=email)
                return await self.signin.open_session(session, user_id=user.id)

    async def session_user(self, *, token: str) -> BrowserSession | None:
        with system_scope():
            async with self._db.session() as session:
                return await self.signin.session_user(session, token=token)

    async def close_session(self, *, token: str) -> None:
        with system_scope():
            async with self._db.session() as session:
                await self.signin.close_session(session, token=token)
