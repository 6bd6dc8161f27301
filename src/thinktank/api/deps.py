"""Dependencies that read like types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from thinktank.accounts.tokens import user_for_token
from thinktank.errors import NotSignedIn
from thinktank.service import ConversationService
from thinktank.store.repository import LOCAL_USER_ID


def get_service(request: Request) -> ConversationService:
    service: ConversationService = request.app.state.service
    return service


async def get_current_user(request: Request) -> str:
    """Local mode: the one implicit user. Multi-user mode: a personal API token (Bearer)."""
    if request.app.state.auth != "multi":
        return LOCAL_USER_ID
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        service = get_service(request)
        async with service.db.session() as session:
            user_id = await user_for_token(session, token.strip())
        if user_id is not None:
            return user_id
    raise NotSignedIn("sign in first: send a personal API token as 'Authorization: Bearer tt_…'")


Service = Annotated[ConversationService, Depends(get_service)]
CurrentUser = Annotated[str, Depends(get_current_user)]
