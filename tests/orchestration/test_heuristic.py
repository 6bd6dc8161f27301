"""The heuristic scorer's shortcuts (one mix per group of candidates who heard the same messages,
norms computed once) give exactly the scores of the plain formula."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.helpers import library
from thinktank.domain import Message, Persona
from thinktank.orchestration import text
from thinktank.orchestration.heuristic import RECENT_WEIGHTS, TOPIC_WEIGHT, HeuristicScorer
from thinktank.orchestration.scoring import SelectionContext

PERSONAS = [library().personas[pid] for pid in sorted(library().personas)[:6]]
TOPIC = "How should we price the new enterprise tier?"
LINES = [
    "Pricing should follow usage, not seats.",
    "The security review needs audit logs first.",
    "What does the onboarding data say?",
    "I disagree: enterprise buyers want predictable costs.",
    "",
]


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
        recent_vec = text.combine(
            {t: w * x for t, x in v.items()} for v, w in zip(heard, RECENT_WEIGHTS, strict=False)
        )
        expertise = " ".join(persona.expertise)
        described = f"{persona.role} {persona.description} {persona.category} {expertise} {expertise}"
        profile = text.vector(described)
        skills = text.vector(f"{expertise} {persona.role}")
        result[persona.id] = (
            text.cosine(recent_vec or topic_vec, profile),
            text.cosine(text.combine([recent_vec, topic_vec]), skills),
        )
    return result


def scaled(raw: dict[str, float]) -> dict[str, float]:
    best = max(raw.values(), default=0.0)
    return {k: 0.5 if best <= 0.0 else 0.5 + 0.5 * v / best for k, v in raw.items()}


@settings(max_examples=60, deadline=None)
@given(
    turns=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(LINES)), max_size=8),
    candidates=st.sets(st.integers(0, 5), min_size=1),
)
def test_scores_equal_the_plain_formula(turns: list[tuple[int, str]], candidates: set[int]) -> None:
    messages = [Message(0, "user", "user", "You", "convener", TOPIC, datetime.now(UTC))]
    for index, (speaker, line) in enumerate(turns, start=1):
        p = PERSONAS[speaker]
        messages.append(Message(index, "persona", p.id, p.name, p.role, line, datetime.now(UTC)))
    context = SelectionContext(topic=TOPIC, members=PERSONAS, messages=messages)
    chosen = [PERSONAS[i] for i in sorted(candidates)]
    scorer = HeuristicScorer()
    for _ in range(2):  # the second time from the scorer's caches
        factors = scorer.factors(context, chosen)
        plain = plain_relevance_and_expertise(context, chosen)
        relevance = scaled({pid: r for pid, (r, _) in plain.items()})
        expertise = scaled({pid: e for pid, (_, e) in plain.items()})
        for persona in chosen:
            found = factors[persona.id]
            assert found.expertise == expertise[persona.id]
            assert found.relevance == (1.0 if found.addressed else relevance[persona.id])
