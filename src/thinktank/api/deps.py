"""Dependencies that read like types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from thinktank.service import ConversationService
from thinktank.store.repository import LOCAL_USER_ID


def get_service(request: Request) -> ConversationService:
    service: ConversationService = request.app.state.service
    return service


def get_current_user() -> str:
    """Local mode: one implicit user. Multi-user sign-in replaces this dependency."""
    return LOCAL_USER_ID


Service = Annotated[ConversationService, Depends(get_service)]
CurrentUser = Annotated[str, Depends(get_current_user)]
