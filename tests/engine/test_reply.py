"""A reply through a real SDK on a fake transport: booked to the model that wrote it, counted when
the server reports no usage, cut when the server ignores the length limit, retries announced."""

from __future__ import annotations

from decimal import Decimal

import httpx2

from tests.engine.helpers import scripted_engine
from tests.fakes import FakeClock, FakeServer, dropping_sse
from tests.models.test_providers import KEYS, openai_chunks, openai_stream
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.events import Event
from thinktank.engine.members import Member
from thinktank.models.ids import ModelId, parse_model_id
from thinktank.models.stack import ModelFactory

UNPRICED = parse_model_id("openai-compatible:my-llama")
GPT = parse_model_id("openai:gpt-4.1-mini")
COMPATIBLE_PRICED = parse_model_id("openai-compatible:gpt-4o-mini")


def engine_on(server: FakeServer, *models: ModelId, messages: int = 5) -> ConversationEngine:
    factory = ModelFactory(keys=KEYS, http_client=server.client(), clock=FakeClock())
    engine, _ = scripted_engine(
        template="security-review", messages=messages, factory=factory, model=models[0]
    )
    for i, member in enumerate(engine.members):
        engine.members[i] = Member(member.persona, models, factory.build_exact(models))
    return engine


def error(status: int) -> httpx2.Response:
    return httpx2.Response(status, json={"error": {"message": "down", "type": "error", "code": None}})


async def test_a_fallback_that_fails_mid_stream_is_booked_as_the_model_that_wrote_the_text() -> None:
    server = FakeServer().queue(
        *[error(500)] * 3, dropping_sse(openai_chunks("GPT began ", "to answer ", "and then"), drop_after=2)
    )
    engine = engine_on(server, UNPRICED, GPT)
    message = await engine.take_turn()
    assert message is not None
    assert message.text == "GPT began to answer"
    assert message.incomplete
    assert message.model_id == str(GPT), "the fallback wrote it, not the primary"
    assert message.usage_estimated
    assert message.cost.known
    assert message.cost.raw is not None
    assert message.cost.raw > 0
    assert set(engine.totals.by_model) == {str(GPT)}
    assert engine.totals.by_model[str(GPT)].usage == message.usage


async def test_a_reply_that_ignores_the_limit_is_cut_here_and_the_limit_was_sent() -> None:
    rambling = [f"sentence {i} goes on and on. " for i in range(400)]
    server = FakeServer().queue(openai_stream(*rambling, model="smollm2", usage=False))
    engine = engine_on(server, parse_model_id("openai-compatible:smollm2"))
    engine.config.reply_tokens = 100
    message = await engine.take_turn()
    assert message is not None
    assert server.json_body()["max_tokens"] == 100
    assert 100 * 4 <= len(message.text) <= 150 * 4 + 40, len(message.text)
    assert message.incomplete
    assert message.error is not None
    assert "reply limit of 100 tokens" in message.error
    assert message.usage_estimated


async def test_replies_from_a_server_without_usage_count_towards_the_cost_cap() -> None:
    server = FakeServer().queue(
        *[openai_stream("A considered reply. " * 40, model="gpt-4o-mini", usage=False) for _ in range(20)]
    )
    engine = engine_on(server, COMPATIBLE_PRICED, messages=20)
    engine.config.max_cost = Decimal("0.0006")
    while engine.status != "finished":
        await engine.take_turn()
    replies = [m for m in engine.messages if m.kind == "persona"]
    assert replies
    assert all(m.usage_estimated and m.cost.billed for m in replies)
    assert engine.persona_message_count() < 20, "the cap tripped on counted tokens"
    assert "cost cap" in engine.stop_reason


async def test_each_retry_is_announced_as_an_event() -> None:
    server = FakeServer().queue(error(503), error(504), openai_stream("Back again."))
    engine = engine_on(server, GPT)
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    engine.sink = record
    message = await engine.take_turn()
    assert message is not None
    assert message.text == "Back again."
    retrying = [e.to_json() for e in events if e.type == "turn.retrying"]
    assert [r["message"] for r in retrying] == [
        "waiting for openai… retrying (2/3)",
        "waiting for openai… retrying (3/3)",
    ]
    assert [r["error"] for r in retrying] == ["ProviderUnavailable", "ProviderTimeout"]
    assert all(r["persona_id"] == message.speaker_id for r in retrying)


async def test_a_transient_failure_costs_one_turn_and_a_permanent_one_pauses_the_run() -> None:
    server = FakeServer().queue(*[error(503)] * 3, *[openai_stream(f"Reply {i}.") for i in range(3)])
    engine = engine_on(server, GPT, messages=3)
    await engine.run_auto()
    assert engine.status == "finished", engine.stop_reason
    assert engine.persona_message_count() == 3

    rejected = FakeServer().queue(error(401))
    engine = engine_on(rejected, GPT, messages=3)
    await engine.run_auto()
    assert engine.status == "paused"
    assert "after an error from" in engine.stop_reason
