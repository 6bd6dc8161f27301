"""Repository queries not covered through the API's answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import start
from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.repository import Spending


def test_spending_in_all_per_day_per_conversation_and_for_chosen_conversations(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'spend.db'}"
    settings = Settings(database_url=url, scripted_latency=NO_LATENCY, data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        first, second = start(client), start(client)
        for cid, turns in ((first, 2), (second, 3)):
            for _ in range(turns):
                client.post(f"/api/v1/conversations/{cid}/turns")

    async def read(conversation_ids: list[str] | None) -> Spending:
        db = Database(url)
        try:
            async with db.session() as session:
                return await repo.spending(
                    session, user_id=repo.LOCAL_USER_ID, conversation_ids=conversation_ids
                )
        finally:
            await db.dispose()

    everything = asyncio.run(read(None))
    assert set(everything.by_conversation) == {first, second}
    assert everything.by_conversation[second].total.usage.requests == 3
    assert sum(t.total.usage.requests for t in everything.by_day.values()) == 5
    assert everything.total.total.usage.requests == 5
    chosen = asyncio.run(read([first]))
    assert set(chosen.by_conversation) == {first}
    assert chosen.total.total.usage.requests == 2
