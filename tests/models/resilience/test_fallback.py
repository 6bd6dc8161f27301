from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic_ai.direct import model_request, model_request_stream
from pydantic_ai.messages import ModelRequest

from tests.fakes import FakeClock, FaultyModel, first_text
from thinktank import errors
from thinktank.models.cost import CostedModel
from thinktank.models.ids import parse_model_id
from thinktank.models.keys import ProviderKeys
from thinktank.models.resilience.fallback import FallbackChain
from thinktank.models.stack import ModelFactory
from thinktank.models.streaming import thinktank_facts
from thinktank.pricing.prices import Pricer

MESSAGES = [ModelRequest.user_text_prompt("hello")]
CLAUDE, GPT, LOCAL = (
    parse_model_id(m) for m in ("anthropic:claude-3-7-sonnet-20250219", "openai:gpt-4.1-mini", "scripted")
)


async def test_moves_down_the_chain_and_records_who_answered() -> None:
    claude = FaultyModel(errors.ProviderUnavailable("down", provider="anthropic"))
    gpt = FaultyModel(errors.Unauthorized("bad key", provider="openai"))
    local = FaultyModel(text="local answer")
    chain = FallbackChain([(CLAUDE, claude), (GPT, gpt), (LOCAL, local)])
    response = await model_request(chain, MESSAGES)
    assert first_text(response) == "local answer"
    facts = thinktank_facts(response)
    assert facts["model_id"] == "scripted"
    assert [f["model_id"] for f in facts["failed"]] == [str(CLAUDE), str(GPT)]
    assert (claude.calls, gpt.calls, local.calls) == (1, 1, 1)


async def test_the_priced_model_is_the_one_that_answered() -> None:
    chain = FallbackChain(
        [
            (CLAUDE, FaultyModel(errors.ProviderUnavailable("down", provider="anthropic"))),
            (GPT, FaultyModel()),
        ]
    )
    response = await model_request(CostedModel(chain, pricer=Pricer()), MESSAGES)
    facts = thinktank_facts(response)
    expected = Pricer().price(GPT, input_tokens=10, output_tokens=2)
    assert facts["model_id"] == str(GPT)
    assert Decimal(facts["cost"]["raw_usd"]) == expected.raw


async def test_all_failing_raises_the_last_failure_with_the_others_noted() -> None:
    chain = FallbackChain(
        [
            (CLAUDE, FaultyModel(errors.ProviderUnavailable("claude down", provider="anthropic"))),
            (GPT, FaultyModel(errors.RateLimited("gpt busy", provider="openai"))),
        ]
    )
    with pytest.raises(errors.RateLimited) as raised:
        await model_request(chain, MESSAGES)
    assert any("claude down" in note for note in raised.value.__notes__)


async def test_a_user_error_stops_the_chain() -> None:
    second = FaultyModel()
    chain = FallbackChain([(CLAUDE, FaultyModel(errors.ConfigurationError("no key"))), (GPT, second)])
    with pytest.raises(errors.ConfigurationError):
        await model_request(chain, MESSAGES)
    assert second.calls == 0


async def test_streams_fail_over_while_opening() -> None:
    chain = FallbackChain(
        [
            (CLAUDE, FaultyModel(errors.ProviderTimeout("t", provider="anthropic"))),
            (GPT, FaultyModel(text="gpt")),
        ]
    )
    async with model_request_stream(CostedModel(chain, pricer=Pricer()), MESSAGES) as stream:
        text = [e async for e in stream]
        response = stream.get()
    assert text
    assert first_text(response) == "partial gpt"
    assert thinktank_facts(response)["model_id"] == str(GPT)


async def test_open_breaker_falls_back_without_calling_the_provider(clock: FakeClock) -> None:
    """The whole stack: Claude's provider circuit is open, so its persona is answered by the fallback."""
    keys = ProviderKeys(anthropic="k")
    factory = ModelFactory(keys=keys, clock=clock)
    breaker = factory.breakers.for_provider("anthropic")
    for _ in range(5):
        breaker.record_failure()
    stack = factory.build(CLAUDE, [LOCAL])
    response = await model_request(stack, MESSAGES)
    facts = thinktank_facts(response)
    assert facts["model_id"] == "scripted"
    assert facts["failed"][0]["error"] == "CircuitOpen"
    assert facts["cost"] == {"raw_usd": "0", "billed_usd": "0"}
