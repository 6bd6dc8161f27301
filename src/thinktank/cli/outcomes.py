"""`thinktank memo CONVERSATION_ID`: the decision memo of a stored conversation."""

from __future__ import annotations

from typing import Any

import typer

from thinktank.accounts.tiers import load_tiers
from thinktank.cli.common import load_library_for, load_settings, on_database, pricer_for, reports_user_errors
from thinktank.cli.discuss import print_memo
from thinktank.events.log import EventBus
from thinktank.models.ids import parse_model_id
from thinktank.models.stack import ModelFactory
from thinktank.service import ConversationService
from thinktank.store.db import Database
from thinktank.store.repository import LOCAL_USER_ID
from thinktank.store.scope import scoped


@reports_user_errors
def memo_command(
    conversation_id: str = typer.Argument(..., help="A conversation stored by the server (local mode)."),
    chair: str | None = typer.Option(None, "--chair", help="Model id of the chair (default: the panel's)."),
) -> None:
    """Have a chair write the decision memo of a stored conversation, store it, and print it."""
    settings = load_settings()
    chair_id = parse_model_id(chair) if chair else None

    async def run(db: Database) -> dict[str, Any]:
        factory = ModelFactory(
            keys=settings.keys, pricer=pricer_for(settings), scripted_latency=settings.scripted_latency
        )
        service = ConversationService(
            db=db,
            library=load_library_for(settings),
            factory=factory,
            bus=EventBus(),
            tiers=load_tiers(settings.tiers_file),
        )
        try:
            with scoped(LOCAL_USER_ID):
                result = await service.write_memo(
                    user_id=LOCAL_USER_ID, conversation_id=conversation_id, chair=chair_id
                )
        finally:
            await service.close()
        return result.to_json()

    print_memo(on_database(settings, run))
