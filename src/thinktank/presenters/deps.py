"""Dependencies that read like types, shared by the API and the pages."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from thinktank.accounts.retention import AccountData
from thinktank.accounts.signin import BrowserSignIn
from thinktank.accounts.tokens import Users
from thinktank.conversations import ConversationService
from thinktank.errors import CsrfFailed, NotSignedIn
from thinktank.store.repository import LOCAL_USER_ID
from thinktank.store.scope import set_user_scope


def get_service(request: Request) -> ConversationService:
    service: ConversationService = request.app.state.service
    return service


def get_users(request: Request) -> Users:
    users: Users = request.app.state.users
    return users


def get_account_data(request: Request) -> AccountData:
    data: AccountData = request.app.state.account_data
    return data


SESSION_COOKIE = "tt_session"
CSRF_COOKIE = "tt_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_current_user(request: Request) -> str:
    """Local mode: the one implicit user. Multi-user mode: a personal API token (Bearer), or a
    browser session cookie, whose changes must carry the session's CSRF token."""
    user_id = await _identify(request)
    # From here on, this request's database work sees only this user's rows (PostgreSQL RLS).
    set_user_scope(user_id)
    return user_id


async def _identify(request: Request) -> str:
    if request.app.state.auth != "multi":
        return LOCAL_USER_ID
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        user_id = await get_users(request).user_for_token(token.strip())
        if user_id is not None:
            return user_id
        raise NotSignedIn("that API token is not valid (revoked, or never issued)")
    cookie = request.cookies.get(SESSION_COOKIE)
    signin: BrowserSignIn | None = request.app.state.signin
    if cookie and signin is not None:
        browser = await signin.session_user(token=cookie)
        if browser is not None:
            if request.method not in SAFE_METHODS:
                sent = request.headers.get("x-csrf-token", "")
                if not hmac.compare_digest(sent, browser.csrf_token):
                    raise CsrfFailed("a change from the browser must send the X-CSRF-Token of its session")
            return str(browser.user_id)
    raise NotSignedIn("sign in first: a browser session, or 'Authorization: Bearer tt_…' for scripts")


Service = Annotated[ConversationService, Depends(get_service)]
CurrentUser = Annotated[str, Depends(get_current_user)]
UsersDep = Annotated[Users, Depends(get_users)]
AccountDataDep = Annotated[AccountData, Depends(get_account_data)]
