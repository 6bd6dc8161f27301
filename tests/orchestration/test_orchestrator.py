"""Properties of the turn decision (hypothesis) and its fallbacks."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.helpers import library
from thinktank.domain import Message, Persona
from thinktank.orchestration.heuristic import HeuristicScorer
from thinktank.orchestration.orchestrator import TurnOrchestrator
from thinktank.orchestration.scoring import Scorer, ScoreSheet, SelectionContext

ALL = sorted(library().personas)
TOPIC = "How should we plan the launch of our new product?"


def message(index: int, persona: Persona | None, text: str) -> Message:
    if persona is None:
        return Message(index, "user", "user", "You", "convener", text, datetime.now(UTC))
    return Message(index, "persona", persona.id, persona.name, persona.role, text, datetime.now(UTC))


def decide(orchestrator: TurnOrchestrator, members: Sequence[Persona], messages: Sequence[Message]) -> str:
    context = SelectionContext(topic=TOPIC, members=members, messages=messages)
    return asyncio.run(orchestrator.decide(context)).persona_id


transcripts = st.lists(
    st.tuples(st.integers(0, 9), st.sampled_from(["We should test it.", "I disagree", "Costs?"])), max_size=25
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(ALL), min_size=1, max_size=6, unique=True), transcripts, st.integers(0, 10**6)
)
def test_always_picks_a_current_member_and_is_deterministic(
    member_ids: list[str], turns: list[tuple[int, str]], seed: int
) -> None:
    members = [library().persona(pid) for pid in member_ids]
    messages = [message(0, None, TOPIC)]
    for index, (who, text) in enumerate(turns, start=1):
        messages.append(message(index, members[who % len(members)], text))
    first = decide(TurnOrchestrator(HeuristicScorer(), seed=seed), members, messages)
    again = decide(TurnOrchestrator(HeuristicScorer(), seed=seed), members, messages)
    assert first in member_ids
    assert first == again


def clones(count: int) -> list[Persona]:
    """Personas that differ only in name: every one is exactly as relevant as the others."""
    base = library().persona("product-manager")
    names = ["Ana Ito", "Ben Ode", "Cai Lund", "Dee Park", "Eli Ruiz", "Fay Moss"]
    return [base.model_copy(update={"id": f"member-{i}", "name": names[i]}) for i in range(count)]


@pytest.mark.parametrize("count", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_with_equal_relevance_nobody_gets_less_than_half_a_fair_share_over_60_turns(
    count: int, seed: int
) -> None:
    members = clones(count)
    orchestrator = TurnOrchestrator(HeuristicScorer(), seed=seed)
    messages = [message(0, None, TOPIC)]
    lines = ["I think we should move faster.", "Here is a risk we missed.", "Let's agree on a metric."]
    for turn in range(1, 61):
        chosen = decide(orchestrator, members, messages)
        persona = next(p for p in members if p.id == chosen)
        messages.append(message(turn, persona, lines[turn % 3]))
    counts = Counter(m.speaker_id for m in messages[1:])
    fair = 60 / count
    assert min(counts[p.id] for p in members) >= fair / 2, counts


def test_a_persona_addressed_by_name_is_chosen_in_the_large_majority_of_cases() -> None:
    rng = random.Random(7)
    hits = trials = 0
    for _ in range(200):
        members = [library().persona(pid) for pid in rng.sample(ALL, rng.randint(3, 5))]
        messages = [message(0, None, TOPIC)]
        for index in range(1, rng.randint(1, 12)):
            messages.append(message(index, rng.choice(members), rng.choice(["We need data.", "Good idea."])))
        speaker = rng.choice(members)
        target = rng.choice([p for p in members if p is not speaker])
        first_name = target.name.split()[0]
        question = rng.choice(
            [f"{first_name}, what do you think?", f"What would you do here, {target.name}?"]
        )
        messages.append(message(len(messages), speaker, f"That is my view. {question}"))
        trials += 1
        hits += (
            decide(TurnOrchestrator(HeuristicScorer(), seed=rng.randint(0, 999)), members, messages)
            == target.id
        )
    assert hits / trials >= 0.85


def test_the_user_addressing_someone_always_wins() -> None:
    members = [library().persona(pid) for pid in ("cfo", "senior-engineer", "end-user")]
    messages = [
        message(0, None, TOPIC),
        message(1, members[0], "Numbers first."),
        message(2, None, "Jamie, would you pay for this?"),
    ]
    assert decide(TurnOrchestrator(HeuristicScorer(), seed=1), members, messages) == "end-user"


class Failing:
    name = "broken"

    async def score(self, context: SelectionContext, candidates: Sequence[Persona]) -> ScoreSheet:
        raise RuntimeError("scorer exploded")

    def planned_call(self, context: SelectionContext, candidates: Sequence[Persona]) -> None:
        return None


class Flat:
    name = "flat"

    def planned_call(self, context: SelectionContext, candidates: Sequence[Persona]) -> None:
        return None

    async def score(self, context: SelectionContext, candidates: Sequence[Persona]) -> ScoreSheet:
        from thinktank.orchestration.scoring import Factors

        return ScoreSheet({p.id: Factors(0.2, 0.2, 0.5, 0.5) for p in candidates}, scorer="flat")


@pytest.mark.parametrize("scorer", [Failing(), Flat()])
def test_scorer_failure_or_low_confidence_falls_back_to_the_least_active(scorer: Scorer) -> None:
    members = [library().persona(pid) for pid in ("cfo", "senior-engineer", "end-user")]
    messages = [
        message(0, None, TOPIC),
        message(1, members[0], "a"),
        message(2, members[1], "b"),
        message(3, members[2], "c"),
        message(4, members[0], "d"),
        message(5, members[2], "e"),
    ]
    context = SelectionContext(topic=TOPIC, members=members, messages=messages)
    decision = asyncio.run(TurnOrchestrator(scorer, seed=3).decide(context))
    # cfo and end-user spoke twice, senior-engineer once; end-user just spoke.
    assert decision.persona_id == "senior-engineer"
    assert decision.chosen_by == "fallback"
    assert "least active" in decision.reason


def test_least_active_ties_go_to_the_one_silent_longest() -> None:
    members = [library().persona(pid) for pid in ("cfo", "senior-engineer", "end-user", "ux-designer")]
    messages = [
        message(0, None, TOPIC),
        message(1, members[1], "a"),
        message(2, members[0], "b"),
        message(3, members[2], "c"),
    ]
    context = SelectionContext(topic=TOPIC, members=members, messages=messages)
    decision = asyncio.run(TurnOrchestrator(Failing(), seed=3).decide(context))
    assert decision.persona_id == "ux-designer"
    members_all_spoke = members[:3]
    context = SelectionContext(topic=TOPIC, members=members_all_spoke, messages=messages)
    assert asyncio.run(TurnOrchestrator(Failing(), seed=3).decide(context)).persona_id == "senior-engineer"


def test_decisions_carry_reason_alternatives_and_confidence() -> None:
    members = [library().persona(pid) for pid in ("cfo", "senior-engineer", "end-user", "ux-designer")]
    context = SelectionContext(
        topic=TOPIC, members=members, messages=[message(0, None, "How much will the cloud bill grow?")]
    )
    decision = asyncio.run(TurnOrchestrator(HeuristicScorer(), seed=3).decide(context))
    assert decision.reason
    assert len(decision.alternatives) == 2
    assert decision.persona_id not in {a.persona_id for a in decision.alternatives}
    assert 0.5 <= decision.confidence <= 1.0


def test_naturalness_stays_within_ten_percent() -> None:
    orchestrator = TurnOrchestrator(HeuristicScorer(), seed=9)
    factors = [orchestrator.naturalness(turn, "cfo") for turn in range(500)]
    assert 0.9 <= min(factors) < 0.92
    assert 1.08 < max(factors) <= 1.1
