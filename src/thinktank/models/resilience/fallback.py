"""Fallback chain: a persona's model can name fallbacks (Claude -> GPT -> local).

The next model is tried after any `ProviderFailure` of the one before, including an open circuit;
a `UserError` is not a provider's fault and stops the chain. A stream fails over only while
opening, never after text has reached the caller. The response records which model answered and
which ones failed before it (metadata key `thinktank`: `model_id`, `failed`); a stream carries them
from the moment it opens, so a reply that breaks mid-stream is still attributed to its own model.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from thinktank.errors import ProviderFailure
from thinktank.models.ids import ModelId
from thinktank.models.layers import Entered, Mapped, StreamLayer, StreamOpening, open_stream
from thinktank.models.streaming import annotated_stream, merge_metadata


class FallbackChain(StreamLayer, WrapperModel):
    """Tries each model in order after a ProviderFailure; remembers which one answered."""

    def __init__(self, chain: Sequence[tuple[ModelId, Model]]) -> None:
        if not chain:
            raise ValueError("a fallback chain needs at least one model")
        super().__init__(chain[0][1])
        self.chain = list(chain)

    @property
    def model_ids(self) -> list[ModelId]:
        return [model_id for model_id, _ in self.chain]

    @staticmethod
    def _facts(model_id: ModelId, failed: list[tuple[ModelId, ProviderFailure]]) -> dict[str, Any]:
        return {
            "model_id": str(model_id),
            "failed": [{"model_id": str(m), "error": type(e).__name__, "message": str(e)} for m, e in failed],
        }

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        failed: list[tuple[ModelId, ProviderFailure]] = []
        for model_id, model in self.chain:
            try:
                response = await model.request(messages, model_settings, model_request_parameters)
            except ProviderFailure as failure:
                failed.append((model_id, failure))
                continue
            merge_metadata(response, self._facts(model_id, failed))
            return response
        raise _exhausted(failed)

    def open_stream(
        self,
        messages: Sequence[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> StreamOpening:
        if len(self.chain) == 1:
            # Nothing to fall back to: the one model's failure is the chain's, as it is.
            model_id, model = self.chain[0]
            facts = self._facts(model_id, [])
            return Mapped(
                open_stream(model, messages, model_settings, model_request_parameters),
                lambda stream: _answering(stream, facts),
            )
        return self._first_that_opens(messages, model_settings, model_request_parameters)

    @asynccontextmanager
    async def _first_that_opens(
        self,
        messages: Sequence[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> AsyncGenerator[StreamedResponse]:
        failed: list[tuple[ModelId, ProviderFailure]] = []
        for model_id, model in self.chain:
            opening = open_stream(model, messages, model_settings, model_request_parameters)
            try:
                stream = await opening.__aenter__()
            except ProviderFailure as failure:
                failed.append((model_id, failure))
                continue
            async with Entered(opening):
                yield _answering(stream, self._facts(model_id, failed))
            return
        raise _exhausted(failed)


def _answering(stream: StreamedResponse, facts: dict[str, Any]) -> StreamedResponse:
    answering = annotated_stream(stream, annotate=_constant(facts))
    # Known now: a stream that breaks half-way is still booked to the model that wrote it.
    merge_metadata(answering, facts)
    return answering


def _constant(facts: dict[str, Any]) -> Callable[[StreamedResponse], dict[str, Any]]:
    return lambda _stream: facts


def _exhausted(failed: list[tuple[ModelId, ProviderFailure]]) -> ProviderFailure:
    """The last failure, with the earlier ones noted, so the caller sees why every model failed."""
    last = failed[-1][1]
    for model_id, failure in failed[:-1]:
        last.add_note(f"{model_id} failed before: {type(failure).__name__}: {failure}")
    return last
