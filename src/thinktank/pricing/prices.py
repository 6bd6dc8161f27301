"""Raw cost from genai-prices' offline price data; billed cost = raw x markup (seed: 1.2).

Local and scripted models cost 0. A model with no known price records cost as unknown (None) with
one warning in the log per model; it never stops a conversation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from genai_prices import Usage, calc_price

from thinktank.models.ids import ModelId

log = logging.getLogger(__name__)

DEFAULT_MARKUP = Decimal("1.2")
ZERO = Decimal(0)

# genai-prices names providers by its own ids; openai-compatible servers are matched by model name.
_PRICE_PROVIDER = {"anthropic": "anthropic", "openai": "openai", "google": "google"}


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


class Pricer:
    def __init__(self, *, markup: Decimal = DEFAULT_MARKUP) -> None:
        if markup < 1:
            raise ValueError(f"markup must be at least 1, not {markup}")
        self.markup = markup
        self._warned: set[str] = set()

    def has_price(self, model_id: ModelId) -> bool:
        return model_id.is_free or self._lookup(model_id, input_tokens=0, output_tokens=0) is not None

    def price(
        self,
        model_id: ModelId,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
    ) -> Cost:
        if model_id.is_free:
            return FREE
        raw = self._lookup(
            model_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
        )
        if raw is None:
            if str(model_id) not in self._warned:
                self._warned.add(str(model_id))
                log.warning("no known price for %s; its cost is recorded as unknown", model_id)
            return UNKNOWN_COST
        return Cost(raw, raw * self.markup)

    def _lookup(
        self, model_id: ModelId, *, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0
    ) -> Decimal | None:
        usage = Usage(
            input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read_tokens
        )
        try:
            result = calc_price(usage, model_id.name, provider_id=_PRICE_PROVIDER.get(model_id.provider))
        except LookupError:
            return None
        return Decimal(result.total_price)
