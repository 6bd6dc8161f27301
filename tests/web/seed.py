"""Conversations made before a server starts: a long transcript written straight to the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from thinktank.api.app import create_app
from thinktank.domain import Message
from thinktank.library.loader import load_library
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.tables import Conversation, MessageRow

Say = Callable[[int, str], str]
"""The text of message `index` by the persona named."""


def _point(index: int, name: str) -> str:
    return f"Point {index} from {name}: we should check the threat model again."


def long_conversation(database_url: str, data_dir: Path, *, messages: int, say: Say = _point) -> str:
    """A stopped security review with `messages` messages, made through the API then extended in
    the database (quicker than generating them), as a server would have stored them."""
    settings = Settings(database_url=database_url, scripted_latency=NO_LATENCY, data_dir=data_dir)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        created = client.post(
            "/api/v1/conversations",
            json={"template_id": "security-review", "model": "scripted"},
        )
        assert created.status_code == 201, created.text
    conversation_id: str = created.json()["id"]
    # Its own thread: the browser fixture's event loop may already run in this one.
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, _write_messages(database_url, conversation_id, messages, say)).result()
    return conversation_id


async def _write_messages(database_url: str, conversation_id: str, count: int, say: Say) -> None:
    db = Database(database_url)
    try:
        async with db.session() as session:
            row = await session.get(Conversation, conversation_id)
            assert row is not None
            panel = load_library().template_personas(load_library().template("security-review"))
            start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
            taken = await session.scalar(
                select(func.count())
                .select_from(MessageRow)
                .where(MessageRow.conversation_id == conversation_id)
            )
            for index in range(taken or 0, count):
                persona = panel[index % len(panel)]
                message = Message(
                    index=index,
                    kind="persona",
                    speaker_id=persona.id,
                    speaker_name=persona.name,
                    speaker_role=persona.role,
                    text=say(index, persona.name),
                    created_at=start + timedelta(seconds=index),
                    model_id="scripted",
                )
                session.add(repo.message_row(message, conversation_id=conversation_id, user_id=row.user_id))
            row.status = "stopped"
            row.stop_reason = "stopped by the user"
            await session.commit()
    finally:
        await db.dispose()
