"""Raw cost from genai-prices' offline price data; billed cost = raw x markup (seed: 1.2).

Local and scripted models cost 0. A model with no known price records cost as unknown (None) with
one warning in the log per model; it never stops a conversation.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from genai_prices import Usage, calc_price

from thinktank.domain.ids import ModelId

# Cost is a domain value; pricing computes it, and the names stay importable from here.
from thinktank.domain.money import FREE as FREE
from thinktank.domain.money import UNKNOWN_COST as UNKNOWN_COST
from thinktank.domain.money import ZERO as ZERO
from thinktank.domain.money import Cost as Cost

log = logging.getLogger(__name__)

DEFAULT_MARKUP = Decimal("1.2")

# genai-prices names providers by its own ids; openai-compatible servers are matched by model name.
_PRICE_PROVIDER = {"anthropic": "anthropic", "openai": "openai", "google": "google"}


class Pricer:
    """Prices usage with genai-prices and applies the markup (billed = raw × markup)."""

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
