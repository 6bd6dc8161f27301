"""Our model layers open each other directly; a model that is not ours is opened as pydantic-ai's
direct API opens it; either way the stream, its failures and its facts are the same."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic_ai.direct import model_request_stream
from pydantic_ai.messages import ModelMessage, ModelRequest, SystemPromptPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters

from tests.fakes import FakeClock, FaultyModel
from thinktank.errors import ProviderUnavailable, Unauthorized
from thinktank.models.cost import CostedModel
from thinktank.models.ids import parse_model_id
from thinktank.models.keys import ProviderKeys
from thinktank.models.layers import Entered, Mapped, Opened, open_stream
from thinktank.models.resilience.breaker import BreakerModel, CircuitBreaker
from thinktank.models.resilience.fallback import FallbackChain
from thinktank.models.resilience.retry import RetryingModel
from thinktank.models.stack import ModelFactory
from thinktank.models.streaming import TextStream, text_deltas, thinktank_facts
from thinktank.pricing.prices import Pricer

MESSAGES: list[ModelMessage] = [ModelRequest(parts=[SystemPromptPart("You are Ada."), UserPromptPart("Hi")])]
SCRIPTED = parse_model_id("scripted:echo")


async def read(opening: Any) -> tuple[str, dict[str, Any]]:
    async with opening as stream:
        text = "".join([delta async for delta in text_deltas(stream)])
    return text, thinktank_facts(stream.get())


async def test_a_stack_of_ours_streams_the_same_through_open_stream_as_through_pydantic_ai() -> None:
    factory = ModelFactory(keys=ProviderKeys(), clock=FakeClock())
    direct = await read(open_stream(factory.build(SCRIPTED), MESSAGES, {"max_tokens": 60}))
    through_pydantic_ai = await read(model_request_stream(factory.build(SCRIPTED), MESSAGES))
    assert direct[0]
    assert direct[0] == through_pydantic_ai[0]
    assert direct[1]["model_id"] == "scripted:echo"
    assert "cost" in direct[1]
    assert direct[1].keys() == through_pydantic_ai[1].keys()


async def test_a_model_not_ours_is_opened_through_pydantic_ai_under_our_layers() -> None:
    faulty = FaultyModel(ProviderUnavailable("down", provider="faulty"), text="after a retry")
    clock = FakeClock()
    stack = CostedModel(
        FallbackChain([(parse_model_id("openai:gpt-4.1-mini"), RetryingModel(faulty, clock=clock))]),
        pricer=Pricer(),
    )
    text, facts = await read(open_stream(stack, MESSAGES))
    assert text == "partial after a retry"
    assert faulty.calls == 2, "the failure to open was retried"
    assert facts["model_id"] == "openai:gpt-4.1-mini"


async def test_a_one_model_chain_raises_that_models_failure_as_it_is() -> None:
    refused = Unauthorized("bad key", provider="faulty")
    chain = FallbackChain([(parse_model_id("openai:gpt-4.1-mini"), FaultyModel(refused))])
    with pytest.raises(Unauthorized) as raised:
        await read(open_stream(chain, MESSAGES))
    assert raised.value is refused


async def test_the_breaker_counts_a_stream_that_fails_after_it_opened() -> None:
    breaker = CircuitBreaker("faulty", clock=FakeClock())
    failing = FaultyModel(ProviderUnavailable("dropped", provider="faulty"), fail_mid_stream=True)
    with pytest.raises(ProviderUnavailable):
        await read(open_stream(BreakerModel(failing, breaker=breaker), MESSAGES))
    assert breaker._failures == 1
    await read(open_stream(BreakerModel(FaultyModel(), breaker=breaker), MESSAGES))
    assert breaker._failures == 0, "a success decays the count"


def a_stream() -> TextStream:
    async def chunks() -> Any:
        yield "text"

    return TextStream(
        model_request_parameters=ModelRequestParameters(),
        _model_name="m",
        _provider_name="p",
        _chunks=chunks(),
    )


class Exits:
    """An opening that records how it was left."""

    def __init__(self) -> None:
        self.left_with: list[type[BaseException] | None] = []

    @asynccontextmanager
    async def opening(self) -> Any:
        try:
            yield a_stream()
        except BaseException as exc:
            self.left_with.append(type(exc))
            raise
        self.left_with.append(None)


async def test_mapped_leaves_the_opening_below_when_its_change_fails() -> None:
    exits = Exits()

    def change(stream: Any) -> Any:
        raise ValueError("could not annotate")

    with pytest.raises(ValueError, match="could not annotate"):
        async with Mapped(exits.opening(), change):
            pass
    assert exits.left_with == [ValueError]


async def test_entered_hands_the_body_s_error_to_the_opening() -> None:
    exits = Exits()
    opening = exits.opening()
    await opening.__aenter__()
    with pytest.raises(KeyError):
        async with Entered(opening):
            raise KeyError("the reader failed")
    assert exits.left_with == [KeyError]
    opening = exits.opening()
    await opening.__aenter__()
    async with Entered(opening):
        pass
    assert exits.left_with == [KeyError, None]


def test_open_stream_fills_in_request_parameters() -> None:
    seen: list[ModelRequestParameters] = []

    class Recording(FallbackChain):
        def open_stream(self, messages: Any, model_settings: Any, model_request_parameters: Any) -> Any:
            seen.append(model_request_parameters)
            return Opened(None)  # type: ignore[arg-type]

    open_stream(Recording([(SCRIPTED, FaultyModel())]), MESSAGES)
    assert isinstance(seen[0], ModelRequestParameters)
