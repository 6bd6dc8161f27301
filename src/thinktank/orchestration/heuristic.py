"""The default scorer: zero tokens, local, deterministic.

relevance      similarity of the last few messages to the persona's role, description and expertise
expertise      similarity of the topic and recent messages to the persona's listed expertise
participation  inverse of the persona's share of the recent window
flow           addressed by name or role in the last message, not having just spoken
Relevance and expertise are scaled into [0.5, 1], the best candidate at 1: who fits best matters,
but a topical echo must not drown out everyone else's turn.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.domain import Persona, Usage
from thinktank.models.ids import ModelId
from thinktank.orchestration import text
from thinktank.orchestration.scoring import Factors, ScoreSheet, SelectionContext, is_addressed, participation

RECENT_WEIGHTS = (1.0, 0.6, 0.4)
TOPIC_WEIGHT = 0.3


class HeuristicScorer:
    name = "heuristic"

    def planned_call(
        self, context: SelectionContext, candidates: Sequence[Persona]
    ) -> tuple[ModelId, Usage] | None:
        return None  # no model: nothing to reserve

    def __init__(self) -> None:
        self._profiles: dict[tuple[str, int], tuple[text.Vector, text.Vector]] = {}

    def _profile(self, persona: Persona) -> tuple[text.Vector, text.Vector]:
        # Keyed by content too, so an edited persona is re-read.
        key = (persona.id, hash((persona.role, persona.description, tuple(persona.expertise))))
        if key not in self._profiles:
            expertise = " ".join(persona.expertise)
            profile = text.vector(
                f"{persona.role} {persona.description} {persona.category} {expertise} {expertise}"
            )
            self._profiles[key] = (profile, text.vector(f"{expertise} {persona.role}"))
        return self._profiles[key]

    async def score(self, context: SelectionContext, candidates: Sequence[Persona]) -> ScoreSheet:
        return ScoreSheet(factors=self.factors(context, candidates), scorer=self.name)

    def factors(self, context: SelectionContext, candidates: Sequence[Persona]) -> dict[str, Factors]:
        recent = list(reversed(context.messages[-(len(RECENT_WEIGHTS) + 1) :]))
        vectors = [(m.speaker_id, text.vector(m.text)) for m in recent]
        topic_vec = text.vector(context.topic, weight=TOPIC_WEIGHT)
        raw_relevance, raw_expertise = {}, {}
        for persona in candidates:
            # What the others said, newest first: a persona's own words must not make it look relevant.
            heard = [v for speaker, v in vectors if speaker != persona.id][: len(RECENT_WEIGHTS)]
            recent_vec = text.combine(
                {t: w * x for t, x in v.items()} for v, w in zip(heard, RECENT_WEIGHTS, strict=False)
            )
            profile, expertise = self._profile(persona)
            raw_relevance[persona.id] = text.cosine(recent_vec or topic_vec, profile)
            raw_expertise[persona.id] = text.cosine(text.combine([recent_vec, topic_vec]), expertise)
        relevance, expertise_scores = _scaled(raw_relevance), _scaled(raw_expertise)
        shares = participation(context, candidates)
        last = context.last
        persona_turns = context.persona_messages()
        before_last = persona_turns[-2].speaker_id if len(persona_turns) >= 2 else None
        result = {}
        for persona in candidates:
            addressed = (
                last is not None and last.speaker_id != persona.id and is_addressed(persona, last.text)
            )
            flow = 1.0 if addressed else 0.3 if persona.id == before_last else 0.5
            result[persona.id] = Factors(
                relevance=1.0 if addressed else relevance[persona.id],
                expertise=expertise_scores[persona.id],
                participation=shares[persona.id],
                flow=flow,
                addressed=addressed,
            )
        return result


def _scaled(raw: dict[str, float]) -> dict[str, float]:
    best = max(raw.values(), default=0.0)
    if best <= 0.0:
        return {key: 0.5 for key in raw}
    return {key: 0.5 + 0.5 * value / best for key, value in raw.items()}
