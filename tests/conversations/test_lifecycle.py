"""Creating a conversation in a web process of a deployment (it does not hold what it creates):
the answer shows the conversation as just built, without restoring it from the database again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.services import fresh_redis
from thinktank.assembly import service_from_settings
from thinktank.conversations.registry import Registry
from thinktank.models.scripted import NO_LATENCY
from thinktank.presenters.conversations import create_conversation
from thinktank.presenters.schemas import ConversationCreate
from thinktank.settings import Settings
from thinktank.store.db import Database
from thinktank.store.users import LOCAL_USER_ID


async def test_a_web_process_restores_what_it_creates_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    restores: list[bool] = []
    original = Registry._restore

    async def counted(self: Registry, **kwargs: Any) -> Any:
        restores.append(bool(kwargs.get("snapshot")))
        return await original(self, **kwargs)

    monkeypatch.setattr(Registry, "_restore", counted)
    with fresh_redis() as redis_url:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'web.db'}",
            redis_url=redis_url,
            scripted_latency=NO_LATENCY,
            data_dir=tmp_path / "data",
        )
        db = Database(settings.resolved_database_url())
        try:
            async with service_from_settings(settings, role="web", db=db) as service:
                body = ConversationCreate.model_validate(
                    {"template_id": "security-review", "model": "scripted", "max_messages": 4}
                )
                shown = await create_conversation(service, LOCAL_USER_ID, body)
        finally:
            await db.dispose()
    assert restores == [True], "one snapshot, to store the topic; the answer reuses it"
    assert shown.status == "idle"
    assert shown.members, "the answer shows the panel, as read from the engine"
