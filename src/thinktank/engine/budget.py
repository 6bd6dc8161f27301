"""What the engine asks before and after spending: may I, and what did it cost. The default allows
everything; `accounts.budget.UserBudget` enforces a user's plan."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Reservation:
    tokens: int
    cost: Decimal
    periods: tuple[str, ...] = ()


class Budget:
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
