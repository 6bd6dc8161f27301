"""Budgets and quotas (seed §2.1): daily and monthly tokens, monthly free credits, cost alerts.

Before each turn the engine reserves an estimate; after it, the reservation is settled with the
real usage. A reservation is one conditional UPDATE per counter inside one transaction
(`used + reserved + estimate <= limit`), so concurrent turns of one user can never reserve past a
limit together: the only overshoot is a reply that turns out longer than its estimate, at most
one message. The database provides the atomicity, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.accounts.ratelimit import RateLimiter
from thinktank.accounts.tiers import Tier
from thinktank.engine.budget import Budget, Reservation
from thinktank.errors import BudgetExceeded, TooManyAttempts
from thinktank.store.db import Database
from thinktank.store.tables import CostRecord, UsageCounter

log = logging.getLogger(__name__)
ZERO = Decimal(0)
MAX_THROTTLE_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Periods:
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


class UserBudget(Budget):
    def __init__(
        self,
        db: Database,
        *,
        user_id: str,
        tier: Tier,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        limiter: RateLimiter | None = None,
        ledger: UsageLedger | None = None,
    ) -> None:
        self.ledger = ledger
        self.db = db
        self.user_id = user_id
        self.tier = tier
        self._now = now
        self.limiter = limiter

    async def _throttle(self, tokens: int) -> None:
        """Wait for the rate limit's next window if this minute is used up (auto mode slows down
        rather than failing); give up after MAX_THROTTLE_SECONDS."""
        limiter = self.limiter
        if limiter is None:
            return
        tpm = limiter.limits.tokens_per_minute
        if tpm is not None and tokens > tpm:
            raise BudgetExceeded(
                f"one turn needs about {tokens:,} tokens, over the limit of {tpm:,} a minute"
            )
        waited = 0.0
        while (wait := await limiter.admit(self.user_id, tokens=tokens)) > 0:
            if waited + wait > MAX_THROTTLE_SECONDS:
                raise TooManyAttempts(
                    "the rate limit of this deployment is reached; try again in a minute", retry_after=wait
                )
            await asyncio.sleep(wait)
            waited += wait

    async def _ensure_rows(self, session: AsyncSession, periods: Periods) -> None:
        dialect_insert = pg_insert if self.db.engine.dialect.name == "postgresql" else sqlite_insert
        for period in (periods.day, periods.month):
            await session.execute(
                dialect_insert(UsageCounter)
                .values(
                    user_id=self.user_id,
                    period=period,
                    tokens_used=0,
                    tokens_reserved=0,
                    billed_used=ZERO,
                    billed_reserved=ZERO,
                    updated_at=self._now(),
                )
                .on_conflict_do_nothing()
            )

    @property
    def _unlimited(self) -> bool:
        tier = self.tier
        return tier.daily_tokens is None and tier.monthly_tokens is None and tier.monthly_credits_usd is None

    async def reserve(self, *, tokens: int, cost: Decimal) -> Reservation:
        await self._throttle(tokens)
        periods = Periods.at(self._now())
        if self._unlimited:
            # Nothing to hold back against: the turn is only counted when it is settled.
            return Reservation(tokens=0, cost=ZERO, periods=(periods.day, periods.month))
        checks = [
            (periods.day, self.tier.daily_tokens, "daily"),
            (periods.month, self.tier.monthly_tokens, "monthly"),
        ]
        async with self.db.session() as session, session.begin():
            await self._ensure_rows(session, periods)
            for period, limit, label in checks:
                counter = UsageCounter
                statement = (
                    update(counter)
                    .where(counter.user_id == self.user_id, counter.period == period)
                    .values(tokens_reserved=counter.tokens_reserved + tokens)
                )
                if limit is not None:
                    statement = statement.where(
                        counter.tokens_used + counter.tokens_reserved + tokens <= limit
                    )
                if (await session.execute(statement)).rowcount != 1:  # type: ignore[attr-defined]
                    raise BudgetExceeded(
                        f"your {label} token limit of {limit:,} is reached ({self.tier.name} plan)"
                    )
            credits = self.tier.monthly_credits_usd
            statement = (
                update(UsageCounter)
                .where(UsageCounter.user_id == self.user_id, UsageCounter.period == periods.month)
                .values(billed_reserved=UsageCounter.billed_reserved + cost)
            )
            if credits is not None:
                statement = statement.where(
                    UsageCounter.billed_used + UsageCounter.billed_reserved + cost <= credits
                )
            if (await session.execute(statement)).rowcount != 1:  # type: ignore[attr-defined]
                raise BudgetExceeded(
                    f"your monthly credits of ${credits} are used up ({self.tier.name} plan)"
                )
        return Reservation(tokens=tokens, cost=cost, periods=(periods.day, periods.month))

    async def settle(
        self,
        reservation: Reservation | None,
        *,
        tokens: int,
        cost: Decimal | None,
        model_id: str | None = None,
    ) -> None:
        periods = (
            reservation.periods if reservation else (lambda p: (p.day, p.month))(Periods.at(self._now()))
        )
        held_tokens = reservation.tokens if reservation else 0
        held_cost = reservation.cost if reservation else ZERO
        spent = cost or ZERO
        if self.ledger is not None and self._unlimited and not held_tokens and not held_cost:
            # Nothing to enforce: add it up and write it with others in a moment.
            self.ledger.add(
                self.user_id,
                (periods[0], periods[-1]),
                tokens=tokens,
                billed=spent,
                model_id=model_id,
                tier=self.tier,
            )
            return
        async with self.db.session() as session, session.begin():
            before = (
                await self._month_spend(session, periods[1]) if self.tier.cost_alert_usd is not None else ZERO
            )
            for period in periods:
                await count_usage(
                    session,
                    self.user_id,
                    period,
                    tokens=tokens,
                    billed=spent if period == periods[1] else ZERO,
                    released_tokens=held_tokens,
                    released_cost=held_cost if period == periods[1] else ZERO,
                    now=self._now(),
                )
        threshold = self.tier.cost_alert_usd
        if threshold is not None and before < threshold <= before + spent:
            log.warning(
                "cost alert: a user's spend this month passed $%s (%s plan)", threshold, self.tier.name
            )
        model_threshold = self.tier.model_cost_alert_usd
        if model_id is not None and model_threshold is not None and spent > 0:
            month_on_model = (await self._model_spend()).get(model_id, ZERO)
            if month_on_model - spent < model_threshold <= month_on_model:
                log.warning(
                    "cost alert: a user's spend on %s this month passed $%s", model_id, model_threshold
                )

    async def _model_spend(self) -> dict[str, Decimal]:
        return await model_spend(self.db, self.user_id, since=self._now())

    async def _month_spend(self, session: AsyncSession, month: str) -> Decimal:
        value = await session.scalar(
            select(UsageCounter.billed_used).where(
                UsageCounter.user_id == self.user_id, UsageCounter.period == month
            )
        )
        return value or ZERO

    async def usage(self) -> dict[str, Any]:
        if self.ledger is not None:
            await self.ledger.flush()
        periods = Periods.at(self._now())
        async with self.db.session() as session:
            rows = {
                row.period: row
                for row in await session.scalars(
                    select(UsageCounter).where(
                        UsageCounter.user_id == self.user_id,
                        UsageCounter.period.in_([periods.day, periods.month]),
                    )
                )
            }
        day, month = rows.get(periods.day), rows.get(periods.month)
        day_used = day.tokens_used if day else 0
        month_used = month.tokens_used if month else 0
        billed = month.billed_used if month else ZERO
        tier = self.tier

        def left(limit: int | Decimal | None, used: int | Decimal) -> str | int | None:
            if limit is None:
                return None
            remaining = max(limit - used, 0)
            return str(remaining) if isinstance(remaining, Decimal) else remaining

        alerts = []
        if tier.model_cost_alert_usd is not None:
            for model, spent in sorted((await self._model_spend()).items()):
                if spent >= tier.model_cost_alert_usd:
                    amount = format(spent.normalize(), "f")
                    alerts.append(
                        f"your spend on {model} this month (${amount}) passed ${tier.model_cost_alert_usd}"
                    )
        if tier.cost_alert_usd is not None and billed >= tier.cost_alert_usd:
            alerts.append(
                f"your spend this month (${format(billed.normalize(), 'f')}) passed ${tier.cost_alert_usd}"
            )
        return {
            "tier": tier.name,
            "day": {
                "tokens_used": day_used,
                "tokens_limit": tier.daily_tokens,
                "tokens_left": left(tier.daily_tokens, day_used),
            },
            "month": {
                "tokens_used": month_used,
                "tokens_limit": tier.monthly_tokens,
                "tokens_left": left(tier.monthly_tokens, month_used),
                "billed_usd": format(billed.normalize(), "f"),
                "credits_usd": None if tier.monthly_credits_usd is None else str(tier.monthly_credits_usd),
                "credits_left_usd": left(tier.monthly_credits_usd, billed),
            },
            "concurrent_personas": tier.concurrent_personas,
            "alerts": alerts,
        }
