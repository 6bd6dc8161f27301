"""Cost accounting as the outermost wrapper: every response leaves with its price attached.

The model that actually answered (recorded by the fallback chain) is the one priced. Facts land in
the response metadata under `thinktank`: `cost` (raw and billed, Decimal as strings) and `usage`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from thinktank.models.ids import ModelId, parse_model_id
from thinktank.models.layers import Mapped, StreamLayer, StreamOpening
from thinktank.models.resilience.fallback import FallbackChain
from thinktank.models.streaming import THINKTANK_METADATA_KEY, annotated_stream, merge_metadata
from thinktank.pricing.prices import Cost, Pricer


class CostedModel(StreamLayer, WrapperModel):
    """The outer wrapper: prices each response at the model that answered (raw and billed)."""

    def __init__(self, wrapped: FallbackChain, *, pricer: Pricer) -> None:
        super().__init__(wrapped)
        self.chain = wrapped
        self.pricer = pricer

    def _facts(self, metadata: dict[str, Any] | None, usage: RequestUsage) -> dict[str, Any]:
        ours = (metadata or {}).get(THINKTANK_METADATA_KEY) or {}
        answered: ModelId = (
            parse_model_id(ours["model_id"]) if "model_id" in ours else self.chain.model_ids[0]
        )
        cost: Cost = self.pricer.price(
            answered,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
        )
        return {
            "cost": cost.to_json(),
            "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
        }

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        response = await self.wrapped.request(messages, model_settings, model_request_parameters)
        merge_metadata(response, self._facts(response.metadata, response.usage))
        return response

    def open_stream(
        self,
        messages: Sequence[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> StreamOpening:
        return Mapped(
            self.chain.open_stream(messages, model_settings, model_request_parameters), self._priced
        )

    def _priced(self, stream: StreamedResponse) -> StreamedResponse:
        return annotated_stream(stream, annotate=lambda inner: self._facts(inner.metadata, inner.usage))
