"""The heuristic scorer's shortcuts (each message's dot products taken once and combined by
linearity, one sum per group of candidates who heard the same messages) give the scores of the
plain formula, written out with whole vectors, up to rounding."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.helpers import library
from thinktank.domain import Message, Persona
from thinktank.orchestration import text
from thinktank.orchestration.heuristic import RECENT_WEIGHTS, TOPIC_WEIGHT, HeuristicScorer
from thinktank.orchestration.scoring import Factors, SelectionContext

PERSONAS = [library().personas[pid] for pid in sorted(library().personas)[:6]]
TOPIC = "How should we price the new enterprise tier?"
LINES = [
    "Pricing should follow usage, not seats.",
    "The security review needs audit logs first.",
    "What does the onboarding data say?",
    "I disagree: enterprise buyers want predictable costs.",
    "",
]


def combine(vectors: Iterable[text.Vector]) -> text.Vector:
    total: dict[str, float] = {}
    for v in vectors:
        for term, value in v.items():
            total[term] = total.get(term, 0.0) + value
    return total


def cosine(a: text.Vector, b: text.Vector) -> float:
    shared = sum(value * b[term] for term, value in a.items() if term in b)
    return shared / (text.norm(a) * text.norm(b)) if shared else 0.0


def plain_relevance_and_expertise(
    context: SelectionContext, candidates: Sequence[Persona]
) -> dict[str, tuple[float, float]]:
    """The formula written out without shortcuts, as the scorer first computed it."""
    recent = list(reversed(context.messages[-(len(RECENT_WEIGHTS) + 1) :]))
    vectors = [(m.speaker_id, text.vector(m.text)) for m in recent]
    topic_vec = text.vector(context.topic, weight=TOPIC_WEIGHT)
    result = {}
    for persona in candidates:
        heard = [v for speaker, v in vectors if speaker != persona.id][: len(RECENT_WEIGHTS)]
        recent_vec = combine(
            {t: w * x for t, x in v.items()} for v, w in zip(heard, RECENT_WEIGHTS, strict=False)
        )
        expertise = " ".join(persona.expertise)
        described = f"{persona.role} {persona.description} {persona.category} {expertise} {expertise}"
        profile = text.vector(described)
        skills = text.vector(f"{expertise} {persona.role}")
        result[persona.id] = (
            cosine(recent_vec or topic_vec, profile),
            cosine(combine([recent_vec, topic_vec]), skills),
        )
    return result


def scaled(raw: dict[str, float]) -> dict[str, float]:
    best = max(raw.values(), default=0.0)
    return {k: 0.5 if best <= 0.0 else 0.5 + 0.5 * v / best for k, v in raw.items()}


def assert_plain(factors: dict[str, Factors], context: SelectionContext, chosen: list[Persona]) -> None:
    plain = plain_relevance_and_expertise(context, chosen)
    relevance = scaled({pid: r for pid, (r, _) in plain.items()})
    expertise = scaled({pid: e for pid, (_, e) in plain.items()})
    for persona in chosen:
        found = factors[persona.id]
        assert math.isclose(found.expertise, expertise[persona.id], rel_tol=1e-12)
        wanted = 1.0 if found.addressed else relevance[persona.id]
        assert math.isclose(found.relevance, wanted, rel_tol=1e-12)


def transcript(turns: list[tuple[int, str]], topic: str = TOPIC) -> list[Message]:
    messages = [Message(0, "user", "user", "You", "convener", topic, datetime.now(UTC))]
    for index, (speaker, line) in enumerate(turns, start=1):
        p = PERSONAS[speaker]
        messages.append(Message(index, "persona", p.id, p.name, p.role, line, datetime.now(UTC)))
    return messages


@settings(max_examples=60, deadline=None)
@given(
    turns=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(LINES)), max_size=8),
    candidates=st.sets(st.integers(0, 5), min_size=1),
)
def test_scores_equal_the_plain_formula(turns: list[tuple[int, str]], candidates: set[int]) -> None:
    context = SelectionContext(topic=TOPIC, members=PERSONAS, messages=transcript(turns))
    chosen = [PERSONAS[i] for i in sorted(candidates)]
    scorer = HeuristicScorer()
    for _ in range(2):  # the second time from the scorer's caches
        assert_plain(scorer.factors(context, chosen), context, chosen)


@settings(max_examples=30, deadline=None)
@given(
    turns=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(LINES)), min_size=1, max_size=12),
    topics=st.lists(st.sampled_from([TOPIC, "Should the audit logs ship before single sign-on?", ""])),
)
def test_one_scorer_through_a_conversation_stays_on_the_plain_formula(
    turns: list[tuple[int, str]], topics: list[str]
) -> None:
    """Turn by turn, messages enter and leave the window the scorer keeps dot products for; a new
    topic or an edited persona must not be scored with the old one's numbers."""
    scorer = HeuristicScorer()
    members = list(PERSONAS)
    for turn in range(1, len(turns) + 1):
        topic = topics[turn % len(topics)] if topics else TOPIC
        if turn == len(turns) // 2 + 1:
            members[0] = members[0].model_copy(update={"expertise": [*members[0].expertise, "audit logs"]})
        messages = transcript(turns[:turn], topic)
        context = SelectionContext(topic=topic, members=members, messages=messages)
        last = messages[-1].speaker_id
        chosen = [p for p in members if p.id != last]
        assert_plain(scorer.factors(context, chosen), context, chosen)
