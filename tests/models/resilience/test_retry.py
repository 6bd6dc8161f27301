from __future__ import annotations

import pytest
from pydantic_ai.direct import model_request, model_request_stream
from pydantic_ai.messages import ModelRequest
from pydantic_ai.models import StreamedResponse

from tests.fakes import FakeClock, FaultyModel, first_text
from thinktank import errors
from thinktank.models.resilience.retry import RetryingModel, RetryPolicy

MESSAGES = [ModelRequest.user_text_prompt("hello")]


def unavailable() -> errors.ProviderUnavailable:
    return errors.ProviderUnavailable("503", provider="faulty", status_code=503)


async def test_transient_failures_are_retried_with_exponential_backoff(clock: FakeClock) -> None:
    inner = FaultyModel(unavailable(), errors.ProviderTimeout("slow", provider="faulty"))
    response = await model_request(RetryingModel(inner, clock=clock), MESSAGES)
    assert first_text(response) == "fine"
    assert inner.calls == 3
    assert clock.sleeps == [1.0, 2.0]


async def test_gives_up_after_three_attempts(clock: FakeClock) -> None:
    inner = FaultyModel(unavailable(), unavailable(), unavailable(), unavailable())
    with pytest.raises(errors.ProviderUnavailable):
        await model_request(RetryingModel(inner, clock=clock), MESSAGES)
    assert inner.calls == 3
    assert clock.sleeps == [1.0, 2.0]


@pytest.mark.parametrize(
    "failure",
    [
        errors.Unauthorized("bad key", provider="faulty", status_code=401),
        errors.InvalidRequest("bad request", provider="faulty", status_code=400),
        errors.ContentRefused("no", provider="faulty"),
    ],
)
async def test_permanent_failures_are_never_retried(
    clock: FakeClock, failure: errors.ProviderFailure
) -> None:
    inner = FaultyModel(failure)
    with pytest.raises(type(failure)):
        await model_request(RetryingModel(inner, clock=clock), MESSAGES)
    assert inner.calls == 1
    assert clock.sleeps == []


async def test_retry_after_is_honoured(clock: FakeClock) -> None:
    inner = FaultyModel(errors.RateLimited("429", provider="faulty", retry_after=7.0))
    await model_request(RetryingModel(inner, clock=clock), MESSAGES)
    assert clock.sleeps == [7.0]


async def test_retry_after_beyond_the_cap_gives_up_at_once_for_the_fallback(clock: FakeClock) -> None:
    inner = FaultyModel(errors.RateLimited("429", provider="faulty", retry_after=120.0))
    with pytest.raises(errors.RateLimited):
        await model_request(RetryingModel(inner, clock=clock), MESSAGES)
    assert clock.sleeps == []


def test_backoff_is_capped_at_thirty_seconds() -> None:
    policy = RetryPolicy(max_attempts=10)
    failure = errors.ProviderUnavailable("x", provider="p")
    delays = [policy.delay_after(failure, attempt=n) for n in range(1, 10)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
    assert policy.delay_after(failure, attempt=10) is None


async def test_a_stream_is_retried_while_opening(clock: FakeClock) -> None:
    inner = FaultyModel(unavailable())
    async with model_request_stream(RetryingModel(inner, clock=clock), MESSAGES) as stream:
        async for _ in stream:
            pass
        assert first_text(stream.get()) == "partial fine"
    assert inner.calls == 2
    assert clock.sleeps == [1.0]


async def test_a_stream_that_fails_after_text_arrived_is_not_retried_into_a_duplicate(
    clock: FakeClock,
) -> None:
    inner = FaultyModel(unavailable(), fail_mid_stream=True)
    opened: list[StreamedResponse] = []

    async def consume() -> None:
        async with model_request_stream(RetryingModel(inner, clock=clock), MESSAGES) as stream:
            opened.append(stream)
            async for _ in stream:
                pass

    with pytest.raises(errors.ProviderUnavailable):
        await consume()
    assert inner.calls == 1
    assert clock.sleeps == []
    partial = opened[0].get()
    assert partial.state == "incomplete"
    assert first_text(partial) == "partial "
