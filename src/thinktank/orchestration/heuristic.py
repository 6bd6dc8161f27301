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
from dataclasses import dataclass

from thinktank.domain import Persona, Usage
from thinktank.models.ids import ModelId
from thinktank.orchestration import text
from thinktank.orchestration.scoring import Factors, ScoreSheet, SelectionContext, is_addressed, participation

RECENT_WEIGHTS = (1.0, 0.6, 0.4)
TOPIC_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class _Profile:
    """A persona's two vectors with their norms, computed once per persona version."""

    profile: text.Vector
    profile_norm: float
    expertise: text.Vector
    expertise_norm: float


@dataclass(frozen=True, slots=True)
class _Heard:
    """What a candidate heard (the others' recent words, and those mixed with the topic), with norms."""

    recent: text.Vector
    recent_norm: float
    mixed: text.Vector
    mixed_norm: float


class HeuristicScorer:
    """Scores candidates without a model call: relevance, expertise, participation and flow."""

    name = "heuristic"

    def planned_call(
        self, context: SelectionContext, candidates: Sequence[Persona]
    ) -> tuple[ModelId, Usage] | None:
        return None  # no model: nothing to reserve

    def __init__(self) -> None:
        self._profiles: dict[tuple[str, int], _Profile] = {}
        self._topic: tuple[str, text.Vector, float] = ("", {}, 0.0)

    def _profile(self, persona: Persona) -> _Profile:
        # Keyed by content too, so an edited persona is re-read.
        key = (persona.id, hash((persona.role, persona.description, tuple(persona.expertise))))
        if key not in self._profiles:
            expertise = " ".join(persona.expertise)
            profile = text.vector(
                f"{persona.role} {persona.description} {persona.category} {expertise} {expertise}"
            )
            skills = text.vector(f"{expertise} {persona.role}")
            self._profiles[key] = _Profile(profile, text.norm(profile), skills, text.norm(skills))
        return self._profiles[key]

    def _topic_vector(self, topic: str) -> tuple[text.Vector, float]:
        # A conversation keeps its topic for every turn: weigh it and take its norm once.
        if self._topic[0] != topic:
            vec = text.vector(topic, weight=TOPIC_WEIGHT)
            self._topic = (topic, vec, text.norm(vec))
        return self._topic[1], self._topic[2]

    async def score(self, context: SelectionContext, candidates: Sequence[Persona]) -> ScoreSheet:
        return ScoreSheet(factors=self.factors(context, candidates), scorer=self.name)

    def factors(self, context: SelectionContext, candidates: Sequence[Persona]) -> dict[str, Factors]:
        recent = list(reversed(context.messages[-(len(RECENT_WEIGHTS) + 1) :]))
        vectors = [(m.speaker_id, text.vector(m.text)) for m in recent]
        topic_vec, topic_norm = self._topic_vector(context.topic)
        # Candidates who heard the same messages share one mix: most of them said none of the last few.
        mixes: dict[tuple[int, ...], _Heard] = {}
        raw_relevance, raw_expertise = {}, {}
        for persona in candidates:
            # What the others said, newest first: a persona's own words must not make it look relevant.
            key = tuple(i for i, (speaker, _) in enumerate(vectors) if speaker != persona.id)[
                : len(RECENT_WEIGHTS)
            ]
            heard = mixes.get(key)
            if heard is None:
                heard = mixes[key] = _mix([vectors[i][1] for i in key], topic_vec)
            found = self._profile(persona)
            raw_relevance[persona.id] = text.cosine(
                heard.recent or topic_vec,
                found.profile,
                norm_a=heard.recent_norm if heard.recent else topic_norm,
                norm_b=found.profile_norm,
            )
            raw_expertise[persona.id] = text.cosine(
                heard.mixed, found.expertise, norm_a=heard.mixed_norm, norm_b=found.expertise_norm
            )
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


def _mix(heard: list[text.Vector], topic_vec: text.Vector) -> _Heard:
    recent = text.weighted_sum(heard, RECENT_WEIGHTS)
    mixed = text.combine([recent, topic_vec])
    return _Heard(recent, text.norm(recent), mixed, text.norm(mixed))


def _scaled(raw: dict[str, float]) -> dict[str, float]:
    best = max(raw.values(), default=0.0)
    if best <= 0.0:
        return {key: 0.5 for key in raw}
    return {key: 0.5 + 0.5 * value / best for key, value in raw.items()}
