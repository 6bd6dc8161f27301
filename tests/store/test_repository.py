"""Repository queries not covered through the API's answers."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.conftest import start
from tests.services import fresh_postgres_database
from thinktank.api.app import create_app
from thinktank.library.loader import load_library
from thinktank.models.scripted import NO_LATENCY
from thinktank.pricing.prices import Pricer
from thinktank.settings import Settings
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.repository import Spending
from thinktank.store.tables import PersonaTemplate


def test_spending_in_all_per_day_per_conversation_and_for_chosen_conversations(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'spend.db'}"
    settings = Settings(database_url=url, scripted_latency=NO_LATENCY, data_dir=tmp_path / "data")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
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


@pytest.mark.postgres
def test_conversations_started_at_once_with_shared_personas_all_count_their_use() -> None:
    """Each start counts its personas in its own transaction; many at once, sharing personas in
    different orders, must neither deadlock nor lose a count."""
    library = load_library()
    ids = sorted(library.personas)[:6]
    panels = [random.Random(n).sample(ids, 3) for n in range(60)]

    async def run(url: str) -> dict[str, int]:
        db = Database(url)
        try:
            await db.upgrade()
            async with db.session() as session:
                await repo.sync_library(session, library=library, pricer=Pricer())
                await session.commit()

            async def start(panel: list[str]) -> None:
                async with db.session() as session:
                    await repo.count_template_use(session, template_id=None, persona_ids=panel)
                    await asyncio.sleep(0.01)  # other starts run meanwhile, holding their rows
                    await session.commit()

            await asyncio.gather(*(start(panel) for panel in panels))
            async with db.session() as session:
                rows = await session.scalars(select(PersonaTemplate).where(PersonaTemplate.id.in_(ids)))
                return {row.id: row.usage_count for row in rows}
        finally:
            await db.dispose()

    with fresh_postgres_database() as url:
        counts = asyncio.run(run(url))
    assert counts == {pid: sum(pid in panel for panel in panels) for pid in ids}
