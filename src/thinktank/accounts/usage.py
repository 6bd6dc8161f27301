"""Usage counters per user and period (a UTC day, a UTC month): adding to them, the in-memory
ledger of plans without limits, and the per-model spend that model cost alerts read.

`accounts.budget.UserBudget` reserves against these counters and settles into them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.accounts.tiers import Tier
from thinktank.store.db import Database
from thinktank.store.tables import CostRecord, UsageCounter

log = logging.getLogger(__name__)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Periods:
    """The counter keys of a moment: its UTC day (`d2026-01-31`) and UTC month (`m2026-01`)."""

    day: str
    month: str

    @classmethod
    def at(cls, moment: datetime) -> Periods:
        return cls(f"d{moment:%Y-%m-%d}", f"m{moment:%Y-%m}")


async def count_usage(
    session: AsyncSession,
    user_id: str,
    period: str,
    *,
    tokens: int,
    billed: Decimal,
    released_tokens: int = 0,
    released_cost: Decimal = ZERO,
    now: datetime,
) -> None:
    """Add usage to a period's counter (creating it if needed) and release what was reserved for it."""
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(UsageCounter).values(
        user_id=user_id,
        period=period,
        tokens_used=tokens,
        tokens_reserved=0,
        billed_used=billed,
        billed_reserved=ZERO,
        updated_at=now,
    )
    changes: dict[str, Any] = {
        "tokens_reserved": UsageCounter.tokens_reserved - released_tokens,
        "tokens_used": UsageCounter.tokens_used + tokens,
        "billed_reserved": UsageCounter.billed_reserved - released_cost,
        "billed_used": UsageCounter.billed_used + billed,
        "updated_at": now,
    }
    await session.execute(statement.on_conflict_do_update(index_elements=["user_id", "period"], set_=changes))


@dataclass
class _Pending:
    tokens: int = 0
    billed: Decimal = ZERO
    by_model: dict[str, Decimal] = field(default_factory=dict)
    tier: Tier | None = None


class UsageLedger:
    """The usage of plans without limits, added up in memory and written every FLUSH_SECONDS in one
    transaction: nothing is enforced against those counters, so a turn need not wait for them. Cost
    alerts are checked when the sums are written. The cost records, written with each message, stay
    the exact account; a crash loses at most the last second of these counters."""

    FLUSH_SECONDS = 1.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[tuple[str, str, str], _Pending] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def add(
        self,
        user_id: str,
        periods: tuple[str, str],
        *,
        tokens: int,
        billed: Decimal,
        model_id: str | None,
        tier: Tier,
    ) -> None:
        spent = {model_id: billed} if model_id is not None and billed else {}
        self._keep((user_id, *periods), _Pending(tokens, billed, spent, tier))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self.FLUSH_SECONDS)
        try:
            await self.flush()
        except Exception:
            log.exception("usage counters could not be written; they are tried again with the next turn")

    async def flush(self) -> None:
        async with self._lock:
            pending, self._pending = self._pending, {}
            if not pending:
                return
            try:
                await self._write(pending)
            except BaseException:
                for key, entry in pending.items():  # kept for the next flush
                    self._keep(key, entry)
                raise

    def _keep(self, key: tuple[str, str, str], usage: _Pending) -> None:
        """Add usage to what waits for the next write."""
        entry = self._pending.setdefault(key, _Pending(tier=usage.tier))
        entry.tokens += usage.tokens
        entry.billed += usage.billed
        for model, money in usage.by_model.items():
            entry.by_model[model] = entry.by_model.get(model, ZERO) + money

    async def _write(self, pending: dict[tuple[str, str, str], _Pending]) -> None:
        now = datetime.now(UTC)
        crossed: list[tuple[Tier, Decimal, Decimal]] = []
        async with self.db.session() as session, session.begin():
            for (user_id, day, month), entry in sorted(pending.items()):
                before = await session.scalar(
                    select(UsageCounter.billed_used).where(
                        UsageCounter.user_id == user_id, UsageCounter.period == month
                    )
                )
                await count_usage(session, user_id, day, tokens=entry.tokens, billed=ZERO, now=now)
                await count_usage(session, user_id, month, tokens=entry.tokens, billed=entry.billed, now=now)
                if entry.tier is not None:
                    crossed.append((entry.tier, before or ZERO, entry.billed))
        for tier, before, spent in crossed:
            threshold = tier.cost_alert_usd
            if threshold is not None and before < threshold <= before + spent:
                log.warning(
                    "cost alert: a user's spend this month passed $%s (%s plan)", threshold, tier.name
                )
        for (user_id, _, _), entry in pending.items():
            threshold = entry.tier.model_cost_alert_usd if entry.tier else None
            if threshold is None or not entry.by_model:
                continue
            spend = await model_spend(self.db, user_id, since=datetime.now(UTC))
            for model, added in entry.by_model.items():
                if spend.get(model, ZERO) - added < threshold <= spend.get(model, ZERO):
                    log.warning("cost alert: a user's spend on %s this month passed $%s", model, threshold)

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        await self.flush()


async def model_spend(db: Database, user_id: str, *, since: datetime) -> dict[str, Decimal]:
    """This month's billed cost per provider:model (the month of `since`), from the cost records."""
    start = since.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    async with db.session() as session:
        rows = await session.execute(
            select(CostRecord.model_id, func.sum(CostRecord.billed_cost))
            .where(
                CostRecord.user_id == user_id,
                CostRecord.created_at >= start,
                CostRecord.model_id.is_not(None),
            )
            .group_by(CostRecord.model_id)
        )
        return {str(model): total or ZERO for model, total in rows.all()}
