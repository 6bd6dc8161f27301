"""What a user's plan allows: their tier, the budget that holds them to it, the size of a panel."""

from __future__ import annotations

from thinktank.accounts.budget import UsageLedger, UserBudget
from thinktank.accounts.ratelimit import RateLimiter
from thinktank.accounts.tiers import Tier, Tiers
from thinktank.errors import UserError
from thinktank.store import repository as repo
from thinktank.store.db import Database


class Plans:
    """The plan of each user, read from their row, and the limits it sets on what they start."""

    def __init__(
        self, db: Database, *, tiers: Tiers, ledger: UsageLedger, rate_limiter: RateLimiter | None = None
    ) -> None:
        self.db = db
        self.tiers = tiers
        self.ledger = ledger
        self.rate_limiter = rate_limiter

    async def tier_of(self, user_id: str) -> Tier:
        async with self.db.session() as session:
            if user_id == repo.LOCAL_USER_ID:
                await repo.ensure_local_user(session)  # it comes back after "delete my account"
            return self.tiers[await repo.user_tier(session, user_id=user_id)]

    async def budget_for(self, user_id: str) -> UserBudget:
        return UserBudget(
            self.db,
            user_id=user_id,
            tier=await self.tier_of(user_id),
            limiter=self.rate_limiter,
            ledger=self.ledger,
        )

    async def check_panel_size(self, user_id: str, *, size: int) -> None:
        """A user error when the user's plan allows fewer personas in one conversation."""
        tier = await self.tier_of(user_id)
        if tier.concurrent_personas is not None and size > tier.concurrent_personas:
            allowed = tier.concurrent_personas
            raise UserError(f"your {tier.name} plan allows {allowed} personas in a conversation, not {size}")
