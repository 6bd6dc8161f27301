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
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.accounts.ratelimit import RateLimiter
from thinktank.accounts.tiers import Tier
from thinktank.accounts.usage import ZERO, Periods, UsageLedger, count_usage, model_spend
from thinktank.engine.budget import Budget, Reservation
from thinktank.errors import BudgetExceeded, TooManyAttempts
from thinktank.store.db import Database
from thinktank.store.tables import UsageCounter

log = logging.getLogger(__name__)
MAX_THROTTLE_SECONDS = 120.0

# `UsageLedger` (in `accounts.usage`) is re-exported: callers build it with the budgets that write through it.
__all__ = ["MAX_THROTTLE_SECONDS", "UsageLedger", "UserBudget"]


class UserBudget(Budget):
    """A user's plan enforced on the usage counters: throttled by the rate limiter, reserved before
    a turn, settled after it (through the ledger when the plan has no limits), with cost alerts."""

    checks_turns = True  # the rate limit weighs every turn's planned tokens, limits or not

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
