"""Circuit breaker per provider (seed §5.1): opens after 5 failures, half-open after 60 s, closes
after 3 successes. One breaker serves every model of a provider, since an outage is the provider's.

Only transient failures count (a wrong key or a bad request says nothing about the provider's
health). While open, requests fail fast with `CircuitOpen`, which the fallback chain moves past.
In the half-open state the first failure opens the circuit again for another 60 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from thinktank.errors import CircuitOpen, TransientFailure
from thinktank.models.clock import Clock, SystemClock
from thinktank.models.layers import BelowOpening, StreamLayer, StreamOpening

BreakerState = Literal["closed", "open", "half-open"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens, how long it stays open, and how many successes close it again."""

    failure_threshold: int = 5
    reset_timeout: float = 60.0
    half_open_successes: int = 3


class CircuitBreaker:
    """One provider's circuit: closed, open after repeated transient failures, then half-open to probe."""

    def __init__(
        self, provider: str, *, policy: BreakerPolicy | None = None, clock: Clock | None = None
    ) -> None:
        self.provider = provider
        self.policy = policy or BreakerPolicy()
        self._clock = clock or SystemClock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._successes = 0
        self._opened_at = 0.0

    @property
    def state(self) -> BreakerState:
        if self._state == "open" and self._clock.monotonic() - self._opened_at >= self.policy.reset_timeout:
            self._state = "half-open"
            self._successes = 0
        return self._state

    def before_request(self) -> None:
        if self.state == "open":
            remaining = self.policy.reset_timeout - (self._clock.monotonic() - self._opened_at)
            raise CircuitOpen(self.provider, retry_in=max(remaining, 0.0))

    def record_success(self) -> None:
        if self.state == "half-open":
            self._successes += 1
            if self._successes >= self.policy.half_open_successes:
                self._state = "closed"
                self._failures = 0
        else:
            # The seed decays the count on success, so only a run of failures opens the circuit.
            self._failures = max(0, self._failures - 1)

    def record_failure(self) -> None:
        state = self.state
        self._failures += 1
        if state == "half-open" or self._failures >= self.policy.failure_threshold:
            self._state = "open"
            self._opened_at = self._clock.monotonic()


class BreakerRegistry:
    """One breaker per provider name, shared by every model of that provider."""

    def __init__(self, *, policy: BreakerPolicy | None = None, clock: Clock | None = None) -> None:
        self._policy = policy or BreakerPolicy()
        self._clock = clock or SystemClock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def for_provider(self, provider: str) -> CircuitBreaker:
        if provider not in self._breakers:
            self._breakers[provider] = CircuitBreaker(provider, policy=self._policy, clock=self._clock)
        return self._breakers[provider]

    def states(self) -> dict[str, BreakerState]:
        return {name: breaker.state for name, breaker in sorted(self._breakers.items())}


class BreakerModel(StreamLayer, WrapperModel):
    """Fails fast while its provider's circuit is open, and records each call's outcome."""

    def __init__(self, wrapped: Model, *, breaker: CircuitBreaker) -> None:
        super().__init__(wrapped)
        self.breaker = breaker

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        self.breaker.before_request()
        try:
            response = await self.wrapped.request(messages, model_settings, model_request_parameters)
        except TransientFailure:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return response

    def open_stream(
        self,
        messages: Sequence[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> StreamOpening:
        return _WatchedOpening(self, messages, model_settings, model_request_parameters)


class _WatchedOpening(BelowOpening[BreakerModel]):
    """The stream below, with its outcome told to the breaker: a transient failure to open or while
    streaming counts against the provider, a stream read to its end (or left early) for it."""

    __slots__ = ()

    async def __aenter__(self) -> StreamedResponse:
        # Asked on entering, as a request would be: an open circuit fails the opening.
        self._layer.breaker.before_request()
        self._opened = self._open_below()
        try:
            return await self._opened.__aenter__()
        except TransientFailure:
            self._layer.breaker.record_failure()
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool | None:
        breaker = self._layer.breaker
        try:
            suppressed = await super().__aexit__(kind, error, trace)
        except TransientFailure:
            breaker.record_failure()
            raise
        if error is None or suppressed:
            breaker.record_success()
        elif isinstance(error, TransientFailure):
            breaker.record_failure()
        return suppressed
