"""The LLM scorer makes ONE bounded call per turn and falls back to the heuristic on bad output."""

from __future__ import annotations

import json

import httpx2

from tests.engine.helpers import scripted_engine
from tests.fakes import FakeServer
from tests.models.test_providers import KEYS, openai_json
from thinktank.models.ids import parse_model_id
from thinktank.models.stack import ModelFactory

SCORER = parse_model_id("openai:gpt-4.1-nano")


def scores_for(request: httpx2.Request) -> httpx2.Response:
    """Answer like a model would: score every candidate named in the prompt."""
    body = json.loads(request.content)
    prompt = json.loads(body["messages"][-1]["content"])
    ids = [c["persona_id"] for c in prompt["candidates"]]
    scores = [
        {"persona_id": pid, "relevance": 0.9 if pid == "end-user" else 0.3, "expertise": 0.5, "flow": 0.5}
        for pid in ids
    ]
    return openai_json(json.dumps({"scores": scores}), model="gpt-4.1-nano")


async def test_one_call_per_turn_with_bounded_input_and_its_cost_booked(server: FakeServer) -> None:
    server.queue(*[scores_for] * 40)
    factory = ModelFactory(keys=KEYS, http_client=server.client())
    engine, _ = scripted_engine(messages=30, factory=factory, scorer="llm", scorer_model=SCORER)
    sizes = []
    while engine.status != "finished":
        before = len(server.requests)
        message = await engine.take_turn()
        assert message is not None
        assert len(server.requests) == before + 1, "exactly one selection call per turn"
        sizes.append(len(server.requests[-1].content))
        assert message.decision is not None
        assert message.decision.scorer == "llm"
    assert max(sizes[10:]) < max(sizes[:10]) * 1.6, "selection input does not grow with the transcript"
    orchestrator_line = engine.totals.by_persona["orchestrator"]
    assert orchestrator_line.usage.requests == 30
    assert orchestrator_line.cost.raw is not None
    assert orchestrator_line.cost.raw > 0


async def test_invalid_output_falls_back_to_the_heuristic_for_that_turn(server: FakeServer) -> None:
    server.queue(openai_json("I think Jamie should talk next!", model="gpt-4.1-nano"))
    factory = ModelFactory(keys=KEYS, http_client=server.client())
    engine, _ = scripted_engine(messages=3, factory=factory, scorer="llm", scorer_model=SCORER)
    message = await engine.take_turn()
    assert message is not None
    assert message.decision is not None
    assert message.decision.scorer == "heuristic"
    assert "llm scorer failed (invalid output" in message.decision.reason
    assert engine.totals.by_persona["orchestrator"].usage.requests == 1, "the failed call is still paid for"


async def test_provider_failure_falls_back_too(server: FakeServer) -> None:
    server.queue(*[httpx2.Response(401, json={"error": {"message": "bad key"}})] * 3)
    factory = ModelFactory(keys=KEYS, http_client=server.client())
    engine, _ = scripted_engine(messages=3, factory=factory, scorer="llm", scorer_model=SCORER)
    message = await engine.take_turn()
    assert message is not None
    assert message.decision is not None
    assert "Unauthorized" in message.decision.reason
