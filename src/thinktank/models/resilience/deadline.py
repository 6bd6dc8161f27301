"""Bounded waits for a provider's stream: a first-byte deadline and an idle deadline between chunks.

A hung provider must not hold a turn for minutes. Opening a streamed request and receiving its first
chunk must happen within `first_byte` seconds; after that, each chunk within `idle` seconds of the
one before. Either miss raises `ProviderTimeout` (a transient failure: the retry wrapper tries again
while nothing reached the caller, the breaker counts it, the fallback chain moves on). The HTTP
client's own timeouts (`http_timeout`) back this up for non-streamed requests, whose first byte is
the whole answer.

Only cloud models get these deadlines: the local model queues generations behind one lock, so its
first token may rightly wait for another conversation's turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx2
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from thinktank.errors import ProviderTimeout
from thinktank.models.layers import Entered, StreamLayer, open_stream
from thinktank.models.streaming import Chunk, TextStream

DEFAULT_FIRST_BYTE_SECONDS = 25.0
DEFAULT_IDLE_SECONDS = 20.0
REQUEST_SECONDS = 120.0
"""A non-streamed answer arrives whole, after the model has written all of it."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How long a streamed reply may take to start, and to stay silent between chunks."""

    first_byte: float = DEFAULT_FIRST_BYTE_SECONDS
    """Connect, send, and receive the first chunk of a streamed reply."""
    idle: float = DEFAULT_IDLE_SECONDS
    """The longest silence between two chunks of a streamed reply."""

    def http_timeout(self) -> httpx2.Timeout:
        return httpx2.Timeout(
            REQUEST_SECONDS, connect=self.first_byte, write=self.first_byte, pool=self.first_byte
        )


class DeadlineModel(StreamLayer, WrapperModel):
    """Fails an attempt that misses its first-byte or idle deadline with ProviderTimeout."""

    def __init__(self, wrapped: Model, *, deadlines: Deadlines, provider: str) -> None:
        super().__init__(wrapped)
        self.deadlines = deadlines
        self.provider_name = provider

    def _timeout(self, what: str, seconds: float) -> ProviderTimeout:
        provider = self.provider_name
        return ProviderTimeout(f"{provider}: {what} within {seconds:g} s", provider=provider)

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        try:
            async with asyncio.timeout(REQUEST_SECONDS):
                return await self.wrapped.request(messages, model_settings, model_request_parameters)
        except TimeoutError:
            raise self._timeout("no answer", REQUEST_SECONDS) from None

    @asynccontextmanager
    async def open_stream(
        self,
        messages: Sequence[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> AsyncGenerator[StreamedResponse]:
        first_byte = self.deadlines.first_byte
        opening = open_stream(self.wrapped, messages, model_settings, model_request_parameters)
        try:
            async with asyncio.timeout(first_byte):
                stream = await opening.__aenter__()
        except TimeoutError:
            raise self._timeout("the stream did not open", first_byte) from None
        async with Entered(opening):
            if isinstance(stream, TextStream):
                stream.wrap_chunks(self._paced)
            yield stream

    async def _paced(self, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        limit, what = self.deadlines.first_byte, "no reply began"
        try:
            while True:
                try:
                    async with asyncio.timeout(limit):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise self._timeout(what, limit) from None
                limit, what = self.deadlines.idle, "the reply stalled: no data"
                yield chunk
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
