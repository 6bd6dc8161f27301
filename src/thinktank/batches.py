"""Batch runs: many conversations (templates × topics) run to their end as one job, under one cap.

A batch is stored with one entry per run. Runs start `concurrency` at a time; each is an ordinary
conversation in auto mode (so it shows in the history and can be opened, forked or compared), run
on this process alone or on the job workers. Before a run starts, the batch's spend so far is
checked against its cap: once the cap is reached, the runs not yet started are skipped, and each
run's own cost cap is what is left of the batch's when it starts (runs in flight at the same time
may together pass the cap by at most one turn each).

A batch waits for each run's conversation to settle on the event bus, not by polling: it wakes on
the conversation's state changes, reads its status from the database (which is saved before the
event is published), and re-reads it at least every RECHECK_SECONDS in case no event comes (a
restart paused the conversation, or the bus lost the event).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.accounts.tiers import Tier
from thinktank.domain.vocabulary import SETTLED
from thinktank.engine.setup import ConversationSpec
from thinktank.errors import UnknownIdError, UserError
from thinktank.events.changes import state_changes
from thinktank.events.log import Bus
from thinktank.jobs.scale import Scale
from thinktank.library.loader import Library
from thinktank.models.ids import parse_model_id
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.tables import BatchRow, Conversation

log = logging.getLogger(__name__)

MAX_RUNS = 500
RunStatus = Literal["pending", "running", "finished", "stopped", "paused", "failed", "skipped"]
RECHECK_SECONDS = 2.0


class BatchSpec(BaseModel):
    """What a batch file (YAML or JSON) or `POST /api/v1/batches` says."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("batch", min_length=1, max_length=200)
    topics: list[str] = Field(min_length=1, description="Questions to discuss; each runs with each template")
    templates: list[str] | Literal["all"] = Field(min_length=1, description="Template ids, or 'all'")
    max_cost: Decimal = Field(gt=0, le=10_000, description="Cap on the whole batch's billed cost (USD)")
    messages: int | None = Field(None, ge=1, le=200, description="Messages per run (default: the template's)")
    model: str | None = Field(None, description="Run every persona on this model id (e.g. scripted)")
    seed: int | None = Field(
        None, ge=0, lt=2**31, description="Same seed for every run, for comparable results"
    )
    concurrency: int = Field(4, ge=1, le=50, description="Runs at the same time")

    @field_validator("topics")
    @classmethod
    def _topics(cls, topics: list[str]) -> list[str]:
        cleaned = [t.strip() for t in topics]
        if any(not t for t in cleaned):
            raise ValueError("a topic is empty")
        if any(len(t) > 2000 for t in cleaned):
            raise ValueError("a topic is longer than 2000 characters")
        return cleaned

    @field_validator("model")
    @classmethod
    def _model(cls, model: str | None) -> str | None:
        if model is not None:
            parse_model_id(model)
        return model


def parse_spec(data: Any) -> BatchSpec:
    """A batch spec, or a UserError naming the first thing wrong with it."""
    if not isinstance(data, dict):
        raise UserError("a batch is a mapping with topics, templates and max_cost")
    try:
        return BatchSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "batch"
        raise UserError(f"{where}: {first['msg']}") from None


class BatchConversations(Protocol):
    """The little a batch needs from the conversation service; the service satisfies it, and this
    module never imports the service."""

    @property
    def bus(self) -> Bus:
        """Where the conversations' events are published (a run waits on its state changes there)."""
        ...

    async def tier_of(self, user_id: str) -> Tier: ...

    async def create(
        self, *, user_id: str, spec: ConversationSpec, title: str | None = None
    ) -> Conversation: ...

    async def set_run_mode(self, *, user_id: str, conversation_id: str, mode: Literal["auto"]) -> None: ...

    async def memo_or_write(self, *, user_id: str, conversation_id: str) -> dict[str, Any]: ...


class BatchRun(BaseModel):
    """One template on one topic: stored in the batch row as JSON, and shown as stored (fields a run
    has not reached yet are absent, not null)."""

    model_config = ConfigDict(extra="forbid")

    template_id: str
    topic: str
    status: RunStatus = "pending"
    conversation_id: str | None = None
    reason: str | None = None
    messages: int | None = None
    cost_usd: str | None = None
    recommendation: str | None = None

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class BatchPublic(BaseModel):
    """A batch as the API, the web page and `thinktank batch run --json` show it; `runs` is left out
    of lists (serialise with `exclude_unset`)."""

    id: str
    name: str
    status: str
    max_cost_usd: str
    total_cost_usd: str
    progress: dict[str, int] = Field(description="total, done, and a count per run status")
    created_at: str
    finished_at: str | None
    runs: list[BatchRun] | None = None

    def shown(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


def spent_on(runs: list[BatchRun]) -> Decimal:
    """What the batch's runs cost so far (billed)."""
    return sum((Decimal(r.cost_usd or 0) for r in runs), Decimal(0))


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _runs_of(row: BatchRow) -> list[BatchRun]:
    return [BatchRun.model_validate(r) for r in row.runs or []]


class Batches:
    """Create, list and run batches; each run is an ordinary conversation made through the service."""

    def __init__(
        self, conversations: BatchConversations, *, db: Database, library: Library, scale: Scale | None
    ) -> None:
        self.conversations = conversations
        self.db = db
        self.library = library
        self.scale = scale
        self._running: set[asyncio.Task[str]] = set()

    async def create(self, *, user_id: str, spec: BatchSpec) -> BatchPublic:
        await self.conversations.tier_of(user_id)  # the local user comes into being here on a new database
        library = self.library
        template_ids = sorted(library.templates) if spec.templates == "all" else spec.templates
        for template_id in template_ids:
            library.template(template_id)  # an unknown id is the caller's mistake, said now
        runs = [
            BatchRun(template_id=t, topic=topic, status="pending")
            for topic in spec.topics
            for t in template_ids
        ]
        if len(runs) > MAX_RUNS:
            raise UserError(f"a batch runs at most {MAX_RUNS} conversations, not {len(runs)}")
        async with self.db.session() as session:
            row = BatchRow(
                user_id=user_id,
                name=spec.name,
                spec=spec.model_dump(mode="json"),
                runs=[r.stored() for r in runs],
                status="queued",
                max_cost=spec.max_cost,
            )
            session.add(row)
            await session.commit()
            return self._public(row)

    async def start(self, *, user_id: str, batch_id: str) -> None:
        """Run it on the job workers when there are any, else in this process."""
        scale = self.scale
        if scale is not None and not scale.drives_here:
            await scale.enqueue_batch(batch_id, user_id)
            return
        task = asyncio.create_task(self.run(user_id=user_id, batch_id=batch_id), name=f"batch:{batch_id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def get(self, *, user_id: str, batch_id: str) -> BatchPublic:
        async with self.db.session() as session:
            return self._public(await self._row(session, user_id, batch_id))

    async def recent(self, *, user_id: str) -> list[BatchPublic]:
        async with self.db.session() as session:
            rows = await repo.list_batches(session, user_id=user_id)
            return [self._public(row, with_runs=False) for row in rows]

    @staticmethod
    async def _row(session: AsyncSession, user_id: str, batch_id: str) -> BatchRow:
        row = await session.get(BatchRow, batch_id)
        if row is None or row.user_id != user_id:
            raise UnknownIdError("batch", batch_id)
        return row

    @staticmethod
    def _public(row: BatchRow, *, with_runs: bool = True) -> BatchPublic:
        runs = _runs_of(row)
        counts: dict[str, int] = {}
        for run in runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        public = BatchPublic(
            id=row.id,
            name=row.name,
            status=row.status,
            max_cost_usd=_money(row.max_cost),
            total_cost_usd=_money(spent_on(runs)),
            progress={
                "total": len(runs),
                "done": sum(counts.get(s, 0) for s in (*SETTLED, "failed", "skipped")),
                **counts,
            },
            created_at=row.created_at.isoformat(),
            finished_at=None if row.finished_at is None else row.finished_at.isoformat(),
        )
        if with_runs:
            public.runs = runs
        return public

    # --- running ---------------------------------------------------------------------------------

    async def run(
        self,
        *,
        user_id: str,
        batch_id: str,
        on_progress: Callable[[BatchPublic], None] | None = None,
    ) -> str:
        """Run every pending run of the batch to its end; the batch's final status."""
        async with self.db.session() as session:
            row = await self._row(session, user_id, batch_id)
            if row.status in ("finished", "failed"):
                return row.status
            spec = BatchSpec.model_validate(row.spec)
            runs = _runs_of(row)
            row.status = "running"
            await session.commit()
        cap = spec.max_cost
        lock = asyncio.Lock()
        slots = asyncio.Semaphore(spec.concurrency)

        async def save(final: str | None = None) -> None:
            async with self.db.session() as session:
                stored = await self._row(session, user_id, batch_id)
                stored.runs = [r.stored() for r in runs]
                if final is not None:
                    stored.status = final
                    stored.finished_at = datetime.now(UTC)
                await session.commit()
                if on_progress is not None:
                    on_progress(self._public(stored))

        async def one(run: BatchRun) -> None:
            async with slots:
                async with lock:
                    left = cap - spent_on(runs)
                    if left <= 0:
                        run.status = "skipped"
                        run.reason = f"the batch's cap of ${_money(cap)} was reached"
                        await save()
                        return
                    run.status = "running"
                try:
                    await self._run_one(user_id, spec, run, left, save)
                except Exception as exc:
                    log.exception("a batch run failed")
                    run.status = "failed"
                    run.reason = f"{type(exc).__name__}: {exc}"
                async with lock:
                    await save()

        try:
            await asyncio.gather(*(one(r) for r in runs if r.status in ("pending", "running")))
        except asyncio.CancelledError:
            raise
        except Exception:
            await save("failed")
            raise
        await save("finished")
        return "finished"

    async def _run_one(
        self,
        user_id: str,
        spec: BatchSpec,
        run: BatchRun,
        cost_cap: Decimal,
        save: Callable[[], Awaitable[None]],
    ) -> None:
        conversations = self.conversations
        conversation_id = run.conversation_id
        if conversation_id is None:
            conversation = await conversations.create(
                user_id=user_id,
                spec=ConversationSpec(
                    template_id=run.template_id,
                    topic=run.topic,
                    max_messages=spec.messages,
                    model_override=parse_model_id(spec.model) if spec.model else None,
                    seed=spec.seed,
                    turn_delay=0.0,
                    max_cost=cost_cap,
                ),
            )
            conversation_id = conversation.id
            run.conversation_id = conversation_id
            await save()
            await conversations.set_run_mode(user_id=user_id, conversation_id=conversation_id, mode="auto")
        # Resumed batches find their runs' conversations where they are: wait for each to end.
        settled = await self._settled(conversation_id)
        if settled is None:
            run.status = "failed"
            run.reason = "its conversation was deleted"
            return
        status, reason = settled
        memo: dict[str, Any] | None = None
        if status == "finished":
            # The runner writes it as the run ends; this waits for that one rather than writing another.
            try:
                memo = await conversations.memo_or_write(user_id=user_id, conversation_id=conversation_id)
            except Exception as exc:
                log.warning("the memo of a batch run could not be written: %s", exc)
        async with self.db.session() as session:
            spending = await repo.spending(session, user_id=user_id, conversation_ids=[conversation_id])
            messages = await repo.count_messages(session, conversation_id=conversation_id)
        totals = spending.by_conversation.get(conversation_id)
        run.status = cast(RunStatus, status)  # one of SETTLED, a subset of a run's statuses
        run.reason = reason
        run.messages = messages
        run.cost_usd = _money(totals.total.cost.billed or Decimal(0)) if totals else "0"
        run.recommendation = (memo or {}).get("memo", {}).get("recommendation", {}).get("text")

    async def _settled(self, conversation_id: str) -> tuple[str, str | None] | None:
        """The conversation's status and stop reason once it has settled; None if it was deleted."""
        async with state_changes(self.conversations.bus, conversation_id, recheck=RECHECK_SECONDS) as changed:
            while True:
                async with self.db.session() as session:
                    row = await session.get(Conversation, conversation_id)
                    if row is None:
                        return None
                    status, reason = row.status, row.stop_reason
                if status in SETTLED:
                    return status, reason
                await changed()
