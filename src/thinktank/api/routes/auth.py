"""Sign-in by magic link or by GitHub, Google or OpenID Connect; the browser session; sign-out
(multi-user mode)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from thinktank.accounts.oauth import OAuthSignIn
from thinktank.accounts.signin import SESSION_LIFETIME, NewSession, SignIn
from thinktank.accounts.tokens import create_user
from thinktank.api.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentUser, Service
from thinktank.errors import ConfigurationError
from thinktank.store.scope import system_scope
from thinktank.store.tables import User

router = APIRouter(tags=["sign-in"])
OAUTH_COOKIE = "tt_oauth"


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)


def _signin(request: Request) -> SignIn:
    signin: SignIn | None = request.app.state.signin
    if signin is None:
        raise ConfigurationError("sign-in is for multi-user mode (THINKTANK_AUTH=multi)")
    return signin


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/magic-link", status_code=202)
async def request_link(body: LinkRequest, request: Request, service: Service) -> dict[str, str]:
    """Email a single-use sign-in link (valid 15 minutes). The answer is the same for any address."""
    with system_scope():  # no user yet
        async with service.db.session() as session:
            await _signin(request).send_link(session, email=body.email, client=_client(request))
    return {"status": "if that address can sign in, a link is on its way"}


@router.get("/auth/magic-link/verify", response_model=None)
async def verify_link(
    request: Request, service: Service, token: str = Query(..., max_length=200)
) -> Response:
    """Open a browser session from a sign-in link, then go to the app."""
    signin = _signin(request)
    with system_scope():  # finds or creates the user behind the link
        async with service.db.session() as session:
            opened = await signin.redeem(session, token=token, client=_client(request))
    return _signed_in(request, opened)


def _signed_in(request: Request, opened: NewSession) -> Response:
    response = RedirectResponse("/", status_code=303)
    secure, max_age = request.app.state.cookie_secure, int(SESSION_LIFETIME.total_seconds())
    response.set_cookie(
        SESSION_COOKIE, opened.token, httponly=True, secure=secure, samesite="lax", path="/", max_age=max_age
    )
    # Readable by the page's script, which echoes it as X-CSRF-Token (double submit).
    response.set_cookie(
        CSRF_COOKIE,
        opened.csrf_token,
        httponly=False,
        secure=secure,
        samesite="strict",
        path="/",
        max_age=max_age,
    )
    response.delete_cookie(OAUTH_COOKIE, path="/api/v1/auth/oauth")
    return response


def _oauth(request: Request) -> OAuthSignIn:
    oauth: OAuthSignIn | None = request.app.state.oauth
    if oauth is None or not oauth.names:
        raise ConfigurationError(
            "no sign-in provider is configured (GitHub, Google or an OpenID Connect issuer)"
        )
    return oauth


@router.get("/auth/oauth/{provider}/start", response_model=None)
async def oauth_start(provider: str, request: Request) -> Response:
    """Go to GitHub, Google or the configured OpenID Connect issuer to sign in."""
    url, cookie = await _oauth(request).start(provider)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        OAUTH_COOKIE,
        cookie,
        httponly=True,
        secure=request.app.state.cookie_secure,
        samesite="lax",
        path="/api/v1/auth/oauth",
        max_age=600,
    )
    return response


@router.get("/auth/oauth/{provider}/callback", response_model=None)
async def oauth_callback(
    provider: str,
    request: Request,
    service: Service,
    code: str = Query(..., max_length=2000),
    state: str = Query(..., max_length=500),
) -> Response:
    _signin(request).attempts.hit(f"client:{_client(request)}", what="sign-in attempts from here")
    email = await _oauth(request).finish(
        provider, code=code, state=state, cookie=request.cookies.get(OAUTH_COOKIE)
    )
    with system_scope():
        async with service.db.session() as session:
            user = await session.scalar(select(User).where(User.email == email))
            if user is None:
                user = await create_user(session, email=email)
            opened = await _signin(request).open_session(session, user_id=user.id)
    return _signed_in(request, opened)


@router.get("/auth/session")
async def current_session(request: Request, service: Service, user: CurrentUser) -> dict[str, Any]:
    """Who I am, and the CSRF token a browser sends back as X-CSRF-Token on changes."""
    async with service.db.session() as session:
        row = await session.get(User, user)
    return {
        "user": {"id": user, "email": row.email if row else None, "tier": row.tier if row else None},
        "csrf_token": request.cookies.get(CSRF_COOKIE),
    }


@router.post("/auth/sign-out", status_code=204)
async def sign_out(request: Request, service: Service, user: CurrentUser) -> Response:
    """End this browser session; conversations kept only for the session (retention "session") go too."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and request.app.state.signin is not None:
        with system_scope():
            async with service.db.session() as session:
                await request.app.state.signin.close_session(session, token=token)
    await service.end_session_conversations(user_id=user)
    response = Response(status_code=204)  # no body at all: a 204 with one breaks keep-alive
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
