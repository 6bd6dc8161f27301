"""Retry with exponential backoff (seed §5.2): 3 attempts, 1 s, x2, 30 s cap, honouring retry-after.

Only `TransientFailure` is retried (rate limits, timeouts, 5xx); unauthorized and invalid requests
fail at once. A streamed request is retried only while opening: once the first byte of a reply has
reached the caller, a failure is not retried into a duplicate. The caller keeps the partial text and
marks the message incomplete (see `thinktank.models.stack`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from thinktank.errors import RateLimited, TransientFailure
from thinktank.models.clock import Clock, SystemClock
from thinktank.models.layers import BelowOpening, StreamLayer, StreamOpening
from thinktank.models.notices import RetryNotice, notify_retry


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, and the exponential backoff between them."""

    max_attempts: int = 3
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 30.0

    def delay_after(self, failure: TransientFailure, *, attempt: int) -> float | None:
        """Seconds to wait after failed attempt number `attempt` (1-based), or None to give up."""
        if attempt >= self.max_attempts:
            return None
        backoff = min(self.initial_delay * self.multiplier ** (attempt - 1), self.max_delay)
        if isinstance(failure, RateLimited) and failure.retry_after is not None:
            # A provider asking for longer than our cap is better served by the fallback chain.
            if failure.retry_after > self.max_delay:
                return None
            return max(backoff, failure.retry_after)
        return backoff


class RetryingModel(StreamLayer, WrapperModel):
    """Retries transient failures with backoff (honouring retry-after) and tells a listener each time."""

    def __init__(
        self, wrapped: Model, *, policy: RetryPolicy | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(wrapped)
        self.policy = policy or RetryPolicy()
        self._clock = clock or SystemClock()

    async def _wait_or_raise(self, failure: TransientFailure, attempt: int) -> None:
        delay = self.policy.delay_after(failure, attempt=attempt)
        if delay is None:
            raise failure
        await notify_retry(
            RetryNotice(
                provider=failure.provider,
                attempt=attempt + 1,
                attempts=self.policy.max_attempts,
                wait_s=delay,
                error=type(failure).__name__,
            )
        )
        await self._clock.sleep(delay)

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        attempt = 1
        while True:
            try:
                return await self.wrapped.request(messages, model_settings, model_request_parameters)
            except TransientFailure as failure:
                await self._wait_or_raise(failure, attempt)
                attempt += 1

    def open_stream(
        self,
        messages: Sequence[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> StreamOpening:
        return _RetriedOpening(self, messages, model_settings, model_request_parameters)


class _RetriedOpening(BelowOpening[RetryingModel]):
    """Opens the stream below, again after each transient failure to open, as the policy allows; once
    open, the stream is the caller's."""

    __slots__ = ()

    async def __aenter__(self) -> StreamedResponse:
        attempt = 1
        while True:
            opening = self._open_below()
            try:
                stream = await opening.__aenter__()
            except TransientFailure as failure:
                await self._layer._wait_or_raise(failure, attempt)
                attempt += 1
                continue
            self._opened = opening
            return stream
