from __future__ import annotations

from pydantic_ai.direct import model_request, model_request_stream
from pydantic_ai.messages import ModelRequest, ModelResponse, SystemPromptPart, TextPart, UserPromptPart

from tests.fakes import FakeClock, first_text
from thinktank.models.scripted import Latency, ScriptedModel

SYSTEM = "You are Diana Patel, a Security Architect. You think in threat models."


def conversation(last: str) -> list[ModelRequest | ModelResponse]:
    return [
        ModelRequest(parts=[SystemPromptPart(SYSTEM), UserPromptPart("Topic: our new login system")]),
        ModelResponse(parts=[TextPart("Passwords alone are not enough.")]),
        ModelRequest(parts=[UserPromptPart(last)]),
    ]


async def test_replies_in_the_persona_voice_and_reacts_to_the_last_speaker() -> None:
    response = await model_request(
        ScriptedModel(), conversation("Alex Chen: We should store session tokens in localStorage.")
    )
    text = first_text(response)
    assert "Security Architect" in text
    assert "Alex Chen" in text
    assert any(word in text for word in ("session", "tokens", "store", "localstorage"))


async def test_is_deterministic_and_depends_on_the_input() -> None:
    model = ScriptedModel()
    a = await model_request(model, conversation("Alex Chen: Use magic links for sign in."))
    b = await model_request(model, conversation("Alex Chen: Use magic links for sign in."))
    c = await model_request(model, conversation("Jamie Rivera: I hate passwords, honestly."))
    assert first_text(a) == first_text(b)
    assert first_text(a) != first_text(c)


async def test_streams_word_by_word_with_simulated_latency_and_usage(clock: FakeClock) -> None:
    model = ScriptedModel(latency=Latency(0.5, 2.0), clock=clock)
    pieces = []
    async with model_request_stream(
        model, conversation("Alex Chen: Rate limit the login endpoint.")
    ) as stream:
        async for event in stream:
            pieces.append(event)
        response = stream.get()
    waited = sum(clock.sleeps)
    assert 0.5 <= waited <= 2.0
    assert clock.sleeps[0] < waited, "the first word arrives before the whole latency has passed"
    assert len(pieces) > 5
    assert response.usage.output_tokens > 0
    assert response.usage.input_tokens > response.usage.output_tokens / 10


def test_latency_parsing() -> None:
    assert Latency.parse("0.5-2") == Latency(0.5, 2.0)
    assert Latency.parse("1") == Latency(1.0, 1.0)
    for bad in ("2-1", "-1", "fast"):
        try:
            Latency.parse(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} should be refused")
