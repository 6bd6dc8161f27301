from __future__ import annotations

import pytest
from pydantic_ai.direct import model_request, model_request_stream
from pydantic_ai.messages import ModelRequest

from tests.fakes import FakeClock, FaultyModel
from thinktank import errors
from thinktank.models.layers import open_stream
from thinktank.models.resilience.breaker import BreakerModel, BreakerRegistry, CircuitBreaker
from thinktank.models.streaming import text_deltas

MESSAGES = [ModelRequest.user_text_prompt("hello")]


def down() -> errors.ProviderUnavailable:
    return errors.ProviderUnavailable("503", provider="faulty")


async def fail_times(model: BreakerModel, count: int) -> None:
    for _ in range(count):
        with pytest.raises(errors.ProviderUnavailable):
            await model_request(model, MESSAGES)


async def test_opens_after_five_failures_and_then_fails_fast(clock: FakeClock) -> None:
    inner = FaultyModel(*[down() for _ in range(5)])
    breaker = CircuitBreaker("faulty", clock=clock)
    model = BreakerModel(inner, breaker=breaker)
    await fail_times(model, 4)
    assert breaker.state == "closed"
    await fail_times(model, 1)
    assert breaker.state == "open"
    with pytest.raises(errors.CircuitOpen) as raised:
        await model_request(model, MESSAGES)
    assert inner.calls == 5, "an open circuit must not call the provider"
    assert raised.value.retry_in == pytest.approx(60.0)


async def test_half_open_after_sixty_seconds_and_closed_after_three_successes(clock: FakeClock) -> None:
    inner = FaultyModel(*[down() for _ in range(5)])
    breaker = CircuitBreaker("faulty", clock=clock)
    model = BreakerModel(inner, breaker=breaker)
    await fail_times(model, 5)
    clock.advance(59.9)
    assert breaker.state == "open"
    clock.advance(0.2)
    assert breaker.state == "half-open"
    for expected in ("half-open", "half-open", "closed"):
        await model_request(model, MESSAGES)
        assert breaker.state == expected


async def test_a_failure_while_half_open_opens_again(clock: FakeClock) -> None:
    inner = FaultyModel(*[down() for _ in range(6)])
    breaker = CircuitBreaker("faulty", clock=clock)
    model = BreakerModel(inner, breaker=breaker)
    await fail_times(model, 5)
    clock.advance(61)
    await fail_times(model, 1)
    assert breaker.state == "open"
    with pytest.raises(errors.CircuitOpen):
        await model_request(model, MESSAGES)


async def test_permanent_failures_do_not_count(clock: FakeClock) -> None:
    inner = FaultyModel(*[errors.Unauthorized("401", provider="faulty") for _ in range(6)])
    breaker = CircuitBreaker("faulty", clock=clock)
    model = BreakerModel(inner, breaker=breaker)
    for _ in range(6):
        with pytest.raises(errors.Unauthorized):
            await model_request(model, MESSAGES)
    assert breaker.state == "closed"


async def test_one_breaker_per_provider_shared_by_its_models(clock: FakeClock) -> None:
    registry = BreakerRegistry(clock=clock)
    gpt_mini = BreakerModel(FaultyModel(*[down() for _ in range(5)]), breaker=registry.for_provider("openai"))
    gpt_full = BreakerModel(FaultyModel(), breaker=registry.for_provider("openai"))
    claude = BreakerModel(FaultyModel(), breaker=registry.for_provider("anthropic"))
    await fail_times(gpt_mini, 5)
    with pytest.raises(errors.CircuitOpen):
        await model_request(gpt_full, MESSAGES)
    assert (await model_request(claude, MESSAGES)).parts
    assert registry.states() == {"anthropic": "closed", "openai": "open"}


async def test_stream_failures_count_too(clock: FakeClock) -> None:
    breaker = CircuitBreaker("faulty", clock=clock)
    model = BreakerModel(FaultyModel(*[down() for _ in range(5)]), breaker=breaker)
    for _ in range(5):
        with pytest.raises(errors.ProviderUnavailable):
            async with model_request_stream(model, MESSAGES):
                pass
    assert breaker.state == "open"


async def read_stream(model: BreakerModel) -> None:
    async with open_stream(model, MESSAGES) as stream:
        async for _ in text_deltas(stream):
            pass


async def test_streams_count_failures_to_open_and_mid_stream_and_successes(clock: FakeClock) -> None:
    breaker = CircuitBreaker("faulty", clock=clock)
    for _ in range(3):
        with pytest.raises(errors.ProviderUnavailable):
            await read_stream(BreakerModel(FaultyModel(down()), breaker=breaker))
    for _ in range(2):
        with pytest.raises(errors.ProviderUnavailable):
            await read_stream(BreakerModel(FaultyModel(down(), fail_mid_stream=True), breaker=breaker))
    assert breaker.state == "open", "five transient failures, opening or streaming, open the circuit"
    inner = FaultyModel()
    with pytest.raises(errors.CircuitOpen):
        await read_stream(BreakerModel(inner, breaker=breaker))
    assert inner.calls == 0, "an open circuit must not call the provider"
    clock.advance(61)
    for expected in ("half-open", "half-open", "closed"):
        await read_stream(BreakerModel(FaultyModel(), breaker=breaker))
        assert breaker.state == expected


async def test_a_stream_left_early_is_a_success_and_a_permanent_failure_is_not_counted(
    clock: FakeClock,
) -> None:
    breaker = CircuitBreaker("faulty", clock=clock)
    model = BreakerModel(FaultyModel(down(), down(), down(), down()), breaker=breaker)
    for _ in range(4):
        with pytest.raises(errors.ProviderUnavailable):
            await read_stream(model)
    async with open_stream(model, MESSAGES) as stream:
        async for _ in text_deltas(stream):
            break  # the speaker guard cut the reply: the provider answered
    for _ in range(3):
        with pytest.raises(errors.Unauthorized):
            await read_stream(
                BreakerModel(FaultyModel(errors.Unauthorized("401", provider="faulty")), breaker=breaker)
            )
    assert breaker.state == "closed"
    with pytest.raises(errors.ProviderUnavailable):
        await read_stream(BreakerModel(FaultyModel(down()), breaker=breaker))
    assert breaker.state == "closed", "the success between reset the count of failures in a row"
