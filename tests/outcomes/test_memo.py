"""The decision memo: structured, every citation real, failing chairs replaced, costs booked."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx2
import pytest

from tests.engine.helpers import scripted_engine
from tests.fakes import FakeServer
from tests.models.test_providers import KEYS, openai_json
from thinktank.domain import Message
from thinktank.engine.engine import ConversationEngine
from thinktank.models.ids import SCRIPTED, parse_model_id
from thinktank.models.stack import ModelFactory
from thinktank.outcomes.memo import DecisionMemo, MemoFailed, citation_problems, write_memo


async def finished_engine() -> ConversationEngine:
    engine, _ = scripted_engine(messages=8, seed=4)
    while engine.status != "finished":
        await engine.take_turn()
    return engine


def every_citation(memo: DecisionMemo) -> list[int]:
    cites = [
        c for name in ("options", "agreements", "risks") for claim in getattr(memo, name) for c in claim.cites
    ]
    cites += memo.recommendation.cites
    cites += [c for d in memo.disagreements for side in d.sides for c in side.cites]
    cites += [c for item in memo.action_items for c in item.cites]
    cites += [c for stance in memo.stances for c in stance.cites]
    return cites


async def test_the_scripted_chair_writes_a_memo_whose_every_citation_is_a_real_message() -> None:
    engine = await finished_engine()
    factory = ModelFactory(keys=KEYS)
    result = await write_memo(
        topic=engine.config.topic,
        messages=engine.messages,
        summary=None,
        chairs=[(SCRIPTED, factory.build(SCRIPTED))],
    )
    memo = result.memo
    assert memo.question == engine.config.topic
    assert result.model_id == "scripted"
    cites = every_citation(memo)
    assert cites, "a memo with no citations would prove nothing"
    real = {m.index for m in engine.messages}
    assert set(cites) <= real
    for cite in memo.recommendation.cites:
        assert engine.messages[cite].kind == "persona"
    assert {s.persona_id for s in memo.stances} == {
        m.speaker_id for m in engine.messages if m.kind == "persona"
    }
    for stance in memo.stances:
        assert engine.messages[stance.cites[0]].speaker_id == stance.persona_id
        assert stance.stance in engine.messages[stance.cites[0]].text


async def test_the_scripted_chair_reads_speakers_whose_role_has_parentheses() -> None:
    # "Research Scientist (Machine Learning)": the transcript line's own parenthesis must not end early.
    engine, _ = scripted_engine(
        template=None, topic="Ship the model?", personas=["research-scientist", "cfo"], messages=4, seed=2
    )
    while engine.status != "finished":
        await engine.take_turn()
    result = await write_memo(
        topic=engine.config.topic,
        messages=engine.messages,
        summary=None,
        chairs=[(SCRIPTED, ModelFactory(keys=KEYS).build(SCRIPTED))],
    )
    assert {s.persona_id for s in result.memo.stances} == {"research-scientist", "cfo"}


def test_citations_of_missing_messages_or_speakers_are_caught() -> None:
    memo = DecisionMemo.model_validate(
        {
            "question": "q",
            "options": [{"text": "o", "cites": [99]}],
            "agreements": [],
            "disagreements": [],
            "risks": [],
            "recommendation": {"text": "r", "cites": [0]},
            "action_items": [{"task": "t", "owner": "ghost", "cites": [0]}],
            "stances": [],
        }
    )

    from tests.engine.helpers import library  # noqa: F401  (a real transcript is not needed here)

    messages = [Message(0, "user", "user", "You", "convener", "q", datetime.now(UTC))]
    problems = citation_problems(memo, messages)
    assert any("options[0] cites messages that do not exist: [99]" in p for p in problems)
    assert any("owned by 'ghost'" in p for p in problems)


async def test_a_failing_or_lying_chair_is_replaced_and_every_attempt_is_paid_for(server: FakeServer) -> None:
    engine = await finished_engine()
    lying = (
        '{"question": "q", "options": [{"text": "x", "cites": [999]}], "agreements": [], "disagreements": [],'
        ' "risks": [], "recommendation": {"text": "r", "cites": [1]}, "action_items": [], "stances": []}'
    )
    server.queue(httpx2.Response(401, json={"error": {"message": "bad key"}}), openai_json(lying))
    factory = ModelFactory(keys=KEYS, http_client=server.client())
    gpt = parse_model_id("openai:gpt-4.1-mini")
    result = await write_memo(
        topic=engine.config.topic,
        messages=engine.messages,
        summary=None,
        chairs=[
            (gpt, factory.build_exact([gpt])),
            (gpt, factory.build_exact([gpt])),
            (SCRIPTED, factory.build(SCRIPTED)),
        ],
    )
    assert result.model_id == "scripted"
    assert [a.error is None for a in result.attempts] == [False, False, True]
    assert "Unauthorized" in (result.attempts[0].error or "")
    assert "bad citations" in (result.attempts[1].error or "")
    assert result.cost.raw is not None
    assert result.cost.raw > 0, "the lying chair's answer was paid for"


async def test_when_every_chair_fails_the_error_says_why(server: FakeServer) -> None:
    engine = await finished_engine()
    server.queue(openai_json("I refuse to write JSON."))
    factory = ModelFactory(keys=KEYS, http_client=server.client())
    gpt = parse_model_id("openai:gpt-4.1-mini")
    with pytest.raises(MemoFailed, match="invalid memo"):
        await write_memo(
            topic="t", messages=engine.messages, summary=None, chairs=[(gpt, factory.build_exact([gpt]))]
        )
    assert engine.persona_message_count() == 8, "the transcript is untouched"
