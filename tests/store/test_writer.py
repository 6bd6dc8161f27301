"""The group-committing writer: many writers, one transaction, each told only of its own failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Update

from thinktank.domain import Message, Usage
from thinktank.pricing.prices import Cost
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.tables import Conversation, CostRecord, MemoRow, MessageRow, new_id
from thinktank.store.writer import run_mode_update, state_update

USER = repo.LOCAL_USER_ID


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'writer.db'}")
    await database.upgrade()
    async with database.session() as session:
        await repo.ensure_local_user(session)
        await session.commit()
    try:
        yield database
    finally:
        await database.dispose()


async def conversation(db: Database) -> str:
    row = Conversation(user_id=USER, title="t", topic="t", mode="debate", settings={}, seed=1)
    async with db.session() as session:
        session.add(row)
        await session.commit()
    return row.id


def message(index: int) -> Message:
    return Message(
        index=index,
        kind="persona",
        speaker_id="cfo",
        speaker_name="Ann",
        speaker_role="CFO",
        text=f"reply {index}",
        created_at=datetime.now(UTC),
        model_id="scripted:default",
        usage=Usage(10, 20, 1),
    )


def message_with_cost(cid: str, index: int) -> list[MessageRow | CostRecord]:
    row = repo.message_row(message(index), conversation_id=cid, user_id=USER)
    row.id = new_id()
    cost = repo.cost_row(
        conversation_id=cid,
        user_id=USER,
        account="cfo",
        model_id="scripted:default",
        usage=Usage(10, 20, 1),
        cost=Cost(raw=Decimal("0.001"), billed=Decimal("0.0012")),
        message_id=row.id,
    )
    return [cost, row]  # the cost first: the writer still inserts the message it names before it


async def count(db: Database, table: type[MessageRow] | type[CostRecord] | type[MemoRow]) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_writes_from_many_conversations_land_together_in_dependency_order(db: Database) -> None:
    ids = [await conversation(db) for _ in range(20)]
    await asyncio.gather(*(db.writer.write(user_id=USER, rows=message_with_cost(cid, 0)) for cid in ids))
    assert await count(db, MessageRow) == 20
    assert await count(db, CostRecord) == 20


async def test_updates_apply_in_the_order_they_were_written(db: Database) -> None:
    cid = await conversation(db)

    def state(status: str) -> tuple[Update, dict[str, Any]]:
        return state_update(cid, status=status, reason=status, summary="", covers_upto=0)

    await asyncio.gather(
        db.writer.write(user_id=USER, updates=[state("running")]),
        db.writer.write(user_id=USER, updates=[run_mode_update(cid, "auto")]),
        db.writer.write(user_id=USER, updates=[state("finished")]),
    )
    async with db.session() as session:
        row = await session.get(Conversation, cid)
    assert row is not None
    assert (row.status, row.stop_reason, row.run_mode) == ("finished", "finished", "auto")


async def test_a_bad_write_fails_only_its_own_writer(db: Database) -> None:
    cid = await conversation(db)
    good = db.writer.write(user_id=USER, rows=message_with_cost(cid, 0))
    clash = db.writer.write(user_id=USER, rows=message_with_cost(cid, 1))
    duplicate_place = db.writer.write(user_id=USER, rows=message_with_cost(cid, 1))
    memo = db.writer.write(
        user_id=USER,
        rows=[repo.memo_row(user_id=USER, conversation_id=cid, model_id="scripted:default", content={})],
    )
    results = await asyncio.gather(good, clash, duplicate_place, memo, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], IntegrityError)
    assert await count(db, MessageRow) == 2  # positions 0 and 1, once each
    assert await count(db, CostRecord) == 2  # the failed message's cost went with it
    assert await count(db, MemoRow) == 1
