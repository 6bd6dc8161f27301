"""The books add up: every token and every cent of a conversation is attributed to the model that
spent it, so the totals by persona, by provider and by model each sum exactly to the grand total
(the llm scorer's and the summariser's calls included). A property over random runs."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx2
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.engine.helpers import scripted_engine
from tests.fakes import FakeClock, FakeServer, dropping_sse, sse
from tests.models.test_providers import KEYS, openai_chunks, openai_json
from thinktank.domain.vocabulary import SETTLED
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.members import Member
from thinktank.engine.setup import ScorerName
from thinktank.engine.totals import Line
from thinktank.models.ids import parse_model_id
from thinktank.models.stack import ModelFactory

MODELS = ["openai:gpt-4.1-mini", "openai-compatible:gpt-4o-mini", "scripted", "openai:gpt-4.1-nano"]


def provider_like(*, usage: bool, drop: bool) -> FakeServer:
    """Answers whatever it is asked: scores for the scorer, a summary, or a streamed reply."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        last = body["messages"][-1]["content"]
        if '"candidates"' in last:
            ids = [c["persona_id"] for c in json.loads(last)["candidates"]]
            scores = [{"persona_id": i, "relevance": 0.6, "expertise": 0.5, "flow": 0.5} for i in ids]
            return openai_json(json.dumps({"scores": scores}), model=body["model"])
        if not body.get("stream"):
            return openai_json("They disagree on the launch date.", model=body["model"])
        chunks = openai_chunks("We should ", "ship in ", "two stages.", model=body["model"], usage=usage)
        return dropping_sse(chunks, drop_after=2) if drop else sse(chunks, done=True)

    return FakeServer(always=handle)


def lines_sum(lines: dict[str, Line]) -> tuple[int, int, int, Decimal, Decimal]:
    total = Line()
    for line in lines.values():
        total.add(line.usage, line.cost)
    return as_tuple(total)


def as_tuple(line: Line) -> tuple[int, int, int, Decimal, Decimal]:
    assert line.cost.raw is not None
    assert line.cost.billed is not None
    return (
        line.usage.input_tokens,
        line.usage.output_tokens,
        line.usage.requests,
        line.cost.raw,
        line.cost.billed,
    )


async def run(engine: ConversationEngine, *, turns: int) -> None:
    """Turn by turn, as a user pressing "Next turn" would, until the run settles or `turns` were
    taken: a turn whose every model failed says nothing, and pressing again is the user's choice,
    so a loop without a bound would spin forever on a panel whose streams all drop."""
    for _ in range(turns):
        if engine.status in SETTLED:
            return
        await engine.take_turn()


@example(  # every stream drops, the provider's breaker opens, and the fake clock never closes it
    seed=212239,
    scorer="heuristic",
    models=["openai:gpt-4.1-mini", "openai:gpt-4.1-nano", "openai:gpt-4.1-nano"],
    scorer_model="scripted",
    usage=True,
    drop=True,
    messages=6,
)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    scorer=st.sampled_from(["heuristic", "llm"]),
    models=st.lists(st.sampled_from(MODELS), min_size=3, max_size=3),
    scorer_model=st.sampled_from(MODELS),
    usage=st.booleans(),
    drop=st.booleans(),
    messages=st.integers(2, 6),
)
def test_totals_by_persona_provider_and_model_each_add_up_to_the_grand_total(
    seed: int,
    scorer: ScorerName,
    models: list[str],
    scorer_model: str,
    usage: bool,
    drop: bool,
    messages: int,
) -> None:
    server = provider_like(usage=usage, drop=drop)
    factory = ModelFactory(keys=KEYS, http_client=server.client(), clock=FakeClock())
    engine, _ = scripted_engine(
        template="security-review",
        messages=messages,
        seed=seed,
        factory=factory,
        scorer=scorer,
        scorer_model=parse_model_id(scorer_model),
        budget=100,
    )
    for i, member in enumerate(engine.members):
        model = (parse_model_id(models[i % len(models)]),)
        engine.members[i] = Member(member.persona, model, factory.build_exact(model))
    asyncio.run(run(engine, turns=messages * 4))
    totals = engine.totals
    grand = as_tuple(totals.total)
    replies = [m for m in engine.messages if m.kind == "persona"]
    assert grand[2] >= len(replies), "every reply is a request on the books"
    assert lines_sum(totals.by_persona) == grand
    assert lines_sum(totals.by_provider) == grand
    assert lines_sum(totals.by_model) == grand
    assert all(m.usage.total_tokens > 0 for m in replies), "no reply is booked as 0 tokens"
