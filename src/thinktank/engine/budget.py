"""What the engine asks before and after spending: may I, and what did it cost. The default allows
everything; `accounts.budget.UserBudget` enforces a user's plan.

Every model call is reserved before it runs and settled after. A turn reserves all of its calls
at once (the scorer's, a summary's if one is due, the speaker's), before any of them runs, so a
refused turn costs nothing; each call then settles its own share, and what no call used is
released when the turn ends (`HeldTurn`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Reservation:
    """What a turn holds against a budget until it is settled (tokens, cost, and the counter periods)."""

    tokens: int
    cost: Decimal
    periods: tuple[str, ...] = ()


class Budget:
    """The engine's budget protocol, unlimited by default: reserve before a turn, settle after it."""

    checks_turns = False
    """Whether `reserve` looks at what a turn plans to use. The default budget holds nothing and
    refuses nothing, so the engine does not plan a turn for it (pricing every member's prompt a
    turn, for no one to read)."""

    async def reserve(self, *, tokens: int, cost: Decimal) -> Reservation:
        """Hold an estimate, or raise BudgetExceeded with a reason a user understands."""
        return Reservation(tokens, cost)

    async def settle(
        self,
        reservation: Reservation | None,
        *,
        tokens: int,
        cost: Decimal | None,
        model_id: str | None = None,
    ) -> None:
        """Replace a reservation (or nothing, for the panel's own overhead) with what was spent."""
        return None


@dataclass(frozen=True, slots=True)
class Share:
    """What one planned call may use at most: its prompt and its reply limit, and their price."""

    tokens: int
    cost: Decimal = ZERO


class HeldTurn:
    """One reservation for every call of a turn, spent share by share."""

    def __init__(self, budget: Budget, reservation: Reservation, shares: dict[str, Share]) -> None:
        self.budget = budget
        self.periods = reservation.periods
        self._left = dict(shares)

    @classmethod
    def unplanned(cls, budget: Budget) -> HeldTurn:
        """A turn held against a budget that checks none: each call settles what it spent."""
        return cls(budget, Reservation(0, ZERO), {})

    @classmethod
    async def reserve(cls, budget: Budget, shares: dict[str, Share]) -> HeldTurn:
        """Reserve every share at once (raises BudgetExceeded, and nothing is held)."""
        tokens = sum(s.tokens for s in shares.values())
        cost = sum((s.cost for s in shares.values()), ZERO)
        reservation = await budget.reserve(tokens=tokens, cost=cost)
        if reservation.tokens != tokens or reservation.cost != cost:
            # The budget held something else (nothing, for plans without limits): shares follow it.
            shares = {name: Share(0) for name in shares}
        return cls(budget, reservation, shares)

    async def settle(self, name: str, *, tokens: int, cost: Decimal | None, model_id: str | None) -> None:
        """A call of this turn is done: its share is replaced by what it spent."""
        share = self._left.pop(name, Share(0))
        held = Reservation(share.tokens, share.cost, self.periods)
        await self.budget.settle(held, tokens=tokens, cost=cost, model_id=model_id)

    async def release(self) -> None:
        """The turn is over: shares no call used are given back."""
        left, self._left = self._left, {}
        tokens = sum(s.tokens for s in left.values())
        cost = sum((s.cost for s in left.values()), ZERO)
        if tokens or cost:
            await self.budget.settle(Reservation(tokens, cost, self.periods), tokens=0, cost=ZERO)
