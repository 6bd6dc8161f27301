"""Group commit for the small writes that many conversations make at the same moment: finished
messages with their cost records, other charges, memos, conversation state and run mode.

With a thousand conversations talking at once, one transaction per write spends its time on round
trips and, on SQLite, waiting for the one write lock. Writers hand their rows to one `BatchWriter`
and wait; it writes everything waiting in one transaction (one multi-row insert per table, one
executemany per kind of update), commits, and only then lets each writer go on, so "saved" still
means committed. If the batch fails, each write is tried again alone, so one bad row fails only its
own writer.

On PostgreSQL the batch tells row-level security whose rows each group of statements writes, as
every other transaction does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Update

from thinktank.store.tables import Base, now

log = logging.getLogger(__name__)

MAX_BATCH = 500
AS_USER = text("SELECT set_config('app.user_id', :user_id, true), set_config('app.scope', '', true)")
_conversations = Table("conversations", Base.metadata)
STATE_UPDATE = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("state_of"))
    .values(
        status=bindparam("new_status"),
        stop_reason=bindparam("new_reason"),
        summary=bindparam("new_summary"),
        summary_covers_upto=bindparam("new_covers_upto"),
        updated_at=bindparam("new_updated_at"),
    )
)
RUN_MODE_UPDATE = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("mode_of"))
    .values(run_mode=bindparam("new_run_mode"), updated_at=bindparam("new_updated_at"))
)


def state_update(
    conversation_id: str, *, status: str, reason: str, summary: str, covers_upto: int
) -> tuple[Update, dict[str, Any]]:
    return STATE_UPDATE, {
        "state_of": conversation_id,
        "new_status": status,
        "new_reason": reason,
        "new_summary": summary,
        "new_covers_upto": covers_upto,
        "new_updated_at": now(),
    }


def run_mode_update(conversation_id: str, mode: str) -> tuple[Update, dict[str, Any]]:
    return RUN_MODE_UPDATE, {"mode_of": conversation_id, "new_run_mode": mode, "new_updated_at": now()}


_TABLE_ORDER = {table.name: position for position, table in enumerate(Base.metadata.sorted_tables)}
"""Inserts go parents first (a cost record names its message)."""


def row_values(row: Base) -> dict[str, Any]:
    """Every column of an ORM row as a plain value, Python-side defaults applied (ids, times)."""
    values: dict[str, Any] = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        default = column.default
        if value is None and default is not None and getattr(default, "is_scalar", False):
            value = default.arg
        elif value is None and default is not None and getattr(default, "is_callable", False):
            value = default.arg(None)
        values[column.key] = value
    return values


@dataclass
class _Write:
    user_id: str
    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[Update, dict[str, Any]]] = field(default_factory=list)
    done: asyncio.Future[None] | None = None


class BatchWriter:
    """Group commit: writes what many writers hand it in one transaction, then lets each go on."""

    def __init__(self, sessions: Any, *, postgres: bool) -> None:
        self._sessions = sessions
        self._postgres = postgres
        self._waiting: list[_Write] = []
        self._task: asyncio.Task[None] | None = None

    async def write(
        self,
        *,
        user_id: str,
        rows: Sequence[Base] = (),
        updates: Sequence[tuple[Update, dict[str, Any]]] = (),
    ) -> None:
        """Insert these ORM rows and run these updates (an update statement of this module and its
        parameters); returns once they are committed (raises what writing them alone raised)."""
        job = _Write(
            user_id,
            [(row.__table__, row_values(row)) for row in rows],  # type: ignore[misc]
            list(updates),
            asyncio.get_running_loop().create_future(),
        )
        self._waiting.append(job)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="batch writer")
        assert job.done is not None
        await asyncio.shield(job.done)

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await self._commit(batch)
            except Exception:
                # One of them is bad: each alone, so the others still land.
                for job in batch:
                    try:
                        await self._commit([job])
                    except Exception as exc:
                        _settle(job, exc)
                    else:
                        _settle(job, None)
            else:
                for job in batch:
                    _settle(job, None)
            # Let the writers just released queue their next rows before the next batch.
            await asyncio.sleep(0)

    async def _commit(self, batch: list[_Write]) -> None:
        session: AsyncSession
        async with self._sessions() as session, session.begin():
            by_user: dict[str, list[_Write]] = {}
            for job in batch:
                by_user.setdefault(job.user_id, []).append(job)
            for user_id, jobs in by_user.items():
                if self._postgres:
                    await session.execute(AS_USER, {"user_id": user_id})
                inserts: dict[Table, list[dict[str, Any]]] = {}
                updates: dict[Update, list[dict[str, Any]]] = {}
                for job in jobs:
                    for table, values in job.rows:
                        inserts.setdefault(table, []).append(values)
                    for statement, params in job.updates:
                        updates.setdefault(statement, []).append(params)
                for table in sorted(inserts, key=lambda t: _TABLE_ORDER.get(t.name, len(_TABLE_ORDER))):
                    await session.execute(insert(table), inserts[table])
                for statement, many in updates.items():
                    await session.execute(statement, many)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            await self._task


def _settle(job: _Write, error: Exception | None) -> None:
    if job.done is None or job.done.done():
        return
    if error is None:
        job.done.set_result(None)
    else:
        job.done.set_exception(error)
