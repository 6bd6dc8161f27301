"""Sign-in by magic link or by GitHub, Google or OpenID Connect; the browser session; sign-out
(multi-user mode)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from thinktank.accounts.oauth import OAuthSignIn
from thinktank.accounts.signin import SESSION_LIFETIME, BrowserSignIn, NewSession
from thinktank.errors import ConfigurationError
from thinktank.presenters.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentUser, Service, UsersDep

router = APIRouter(tags=["sign-in"])
OAUTH_COOKIE = "tt_oauth"


class LinkRequest(BaseModel):
    """Where to send a sign-in link."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)


class LinkSent(BaseModel):
    """The answer to a sign-in link request, the same for every address."""

    status: str = Field(description="The same words whether or not the address can sign in")


class Me(BaseModel):
    """The signed-in user (email and tier are null for the implicit local user)."""

    id: str
    email: str | None
    tier: str | None


class SessionPublic(BaseModel):
    """Who I am, and the CSRF token of my browser session."""

    user: Me
    csrf_token: str | None = Field(description="Send it back as X-CSRF-Token (browser sessions only)")


def _signin(request: Request) -> BrowserSignIn:
    signin: BrowserSignIn | None = request.app.state.signin
    if signin is None:
        raise ConfigurationError("sign-in is for multi-user mode (THINKTANK_AUTH=multi)")
    return signin


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/magic-link", status_code=202, response_model=LinkSent)
async def request_link(body: LinkRequest, request: Request) -> LinkSent:
    """Email a single-use sign-in link (valid 15 minutes). The answer is the same for any address."""
    await _signin(request).send_link(email=body.email, client=_client(request))
    return LinkSent(status="if that address can sign in, a link is on its way")


@router.get("/auth/magic-link/verify", response_model=None)
async def verify_link(request: Request, token: str = Query(..., max_length=200)) -> Response:
    """Open a browser session from a sign-in link, then go to the app."""
    opened = await _signin(request).redeem(token=token, client=_client(request))
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
    code: str = Query(..., max_length=2000),
    state: str = Query(..., max_length=500),
) -> Response:
    _signin(request).attempts.hit(f"client:{_client(request)}", what="sign-in attempts from here")
    email = await _oauth(request).finish(
        provider, code=code, state=state, cookie=request.cookies.get(OAUTH_COOKIE)
    )
    return _signed_in(request, await _signin(request).sign_in(email=email))


@router.get("/auth/session", response_model=SessionPublic)
async def current_session(request: Request, users: UsersDep, user: CurrentUser) -> SessionPublic:
    """Who I am, and the CSRF token a browser sends back as X-CSRF-Token on changes."""
    row = await users.get(user)
    return SessionPublic(
        user=Me(id=user, email=row.email if row else None, tier=row.tier if row else None),
        csrf_token=request.cookies.get(CSRF_COOKIE),
    )


@router.post("/auth/sign-out", status_code=204)
async def sign_out(request: Request, service: Service, user: CurrentUser) -> Response:
    """End this browser session; conversations kept only for the session (retention "session") go too."""
    token = request.cookies.get(SESSION_COOKIE)
    signin: BrowserSignIn | None = request.app.state.signin
    if token and signin is not None:
        await signin.close_session(token=token)
    await service.end_session_conversations(user_id=user)
    response = Response(status_code=204)  # no body at all: a 204 with one breaks keep-alive
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
