"""Money as the domain counts it: US dollars in `Decimal`, a raw and a billed amount, None when unknown.

The pricing layer computes costs; everything above (messages, totals, budgets) only carries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Cost:
    """Money in US dollars; None means the price is unknown."""

    raw: Decimal | None
    billed: Decimal | None

    @property
    def known(self) -> bool:
        return self.raw is not None

    def __add__(self, other: Cost) -> Cost:
        if self.raw is None or other.raw is None or self.billed is None or other.billed is None:
            return UNKNOWN_COST
        return Cost(self.raw + other.raw, self.billed + other.billed)

    def to_json(self) -> dict[str, Any]:
        return {"raw_usd": _plain(self.raw), "billed_usd": _plain(self.billed)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cost:
        raw, billed = data.get("raw_usd"), data.get("billed_usd")
        return cls(None if raw is None else Decimal(raw), None if billed is None else Decimal(billed))


def _plain(amount: Decimal | None) -> str | None:
    """A Decimal as plain digits ('0.00144', '0'), however the database padded or scaled it."""
    return None if amount is None else format(amount.normalize(), "f")


FREE = Cost(ZERO, ZERO)
UNKNOWN_COST = Cost(None, None)
