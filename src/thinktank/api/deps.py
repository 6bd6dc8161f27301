"""Dependencies that read like types."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from thinktank.accounts.tokens import user_for_token
from thinktank.conversations import ConversationService
from thinktank.errors import CsrfFailed, NotSignedIn
from thinktank.store.repository import LOCAL_USER_ID
from thinktank.store.scope import set_user_scope, system_scope


def get_service(request: Request) -> ConversationService:
    service: ConversationService = request.app.state.service
    return service


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
    service = get_service(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        with system_scope():  # whose token is it: a lookup across users
            async with service.db.session() as session:
                user_id = await user_for_token(session, token.strip())
        if user_id is not None:
            return user_id
        raise NotSignedIn("that API token is not valid (revoked, or never issued)")
    cookie = request.cookies.get(SESSION_COOKIE)
    signin = request.app.state.signin
    if cookie and signin is not None:
        with system_scope():
            async with service.db.session() as session:
                browser = await signin.session_user(session, token=cookie)
        if browser is not None:
            if request.method not in SAFE_METHODS:
                sent = request.headers.get("x-csrf-token", "")
                if not hmac.compare_digest(sent, browser.csrf_token):
                    raise CsrfFailed("a change from the browser must send the X-CSRF-Token of its session")
            return str(browser.user_id)
    raise NotSignedIn("sign in first: a browser session, or 'Authorization: Bearer tt_…' for scripts")


Service = Annotated[ConversationService, Depends(get_service)]
CurrentUser = Annotated[str, Depends(get_current_user)]
