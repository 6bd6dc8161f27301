"""The default scorer: zero tokens, local, deterministic.

relevance      similarity of the last few messages to the persona's role, description and expertise
expertise      similarity of the topic and recent messages to the persona's listed expertise
participation  inverse of the persona's share of the recent window
flow           addressed by name or role in the last message, not having just spoken
Relevance and expertise are scaled into [0.5, 1], the best candidate at 1: who fits best matters,
but a topical echo must not drown out everyone else's turn.

What a candidate heard is a weighted sum of the others' last few messages (and, for expertise, the
topic), so its cosine with a persona's vectors follows from dot products of single messages, by
linearity: `dot(Σ wₖvₖ, p) = Σ wₖ dot(vₖ, p)` and `|Σ wₖvₖ|² = Σₖ Σₗ wₖwₗ dot(vₖ, vₗ)`. A message
is in the recent window for four turns; its dot products with each persona, the topic and the other
recent messages are taken once, when first needed, and each turn then costs a few multiplications
per candidate instead of adding up word vectors. The numbers are those of the sums written out, up
to rounding in the last bits (the same inputs always give the same bits, so a conversation replays
exactly).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from thinktank.domain import Persona, Usage
from thinktank.models.ids import ModelId
from thinktank.orchestration import text
from thinktank.orchestration.scoring import (
    Factors,
    ScoreSheet,
    SelectionContext,
    addressed_by_last,
    participation,
)

RECENT_WEIGHTS = (1.0, 0.6, 0.4)
TOPIC_WEIGHT = 0.3

_ProfileKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class _Profile:
    """A persona's two vectors with their norms, computed once per persona version."""

    key: _ProfileKey
    profile: text.Vector
    profile_norm: float
    expertise: text.Vector
    expertise_norm: float
    topic_profile: float
    """dot(topic, profile): relevance for a candidate who heard nothing yet."""
    topic_expertise: float


@dataclass(slots=True)
class _Said:
    """One recent message's vector and its dot products, each taken when first needed."""

    words: str
    vector: text.Vector
    squared: float
    topic: float
    with_personas: dict[_ProfileKey, tuple[float, float]] = field(default_factory=dict)
    """dot with each persona's profile, and with its expertise: the members' at once when the
    message is first read, a member who joined later's when first needed."""
    with_said: dict[str, float] = field(default_factory=dict)
    """dot with the other recent messages, by their words (the same words, the same vector)."""


class _Index:
    """The members' profile and expertise vectors by term: one pass over a new message's words gives
    its dot products with all of them (most of its words are in no profile)."""

    def __init__(self, profiles: Sequence[_Profile]) -> None:
        self.keys = tuple(found.key for found in profiles)
        self._by_term: dict[str, list[tuple[int, float]]] = {}
        for i, found in enumerate(profiles):
            for slot, vector in ((2 * i, found.profile), (2 * i + 1, found.expertise)):
                for term, weight in vector.items():
                    self._by_term.setdefault(term, []).append((slot, weight))

    def dots(self, vector: text.Vector) -> dict[_ProfileKey, tuple[float, float]]:
        sums = [0.0] * (2 * len(self.keys))
        by_term = self._by_term
        for term, value in vector.items():
            for slot, weight in by_term.get(term, ()):
                sums[slot] += value * weight
        return {key: (sums[2 * i], sums[2 * i + 1]) for i, key in enumerate(self.keys)}


class _Heard(NamedTuple):
    """What a group of candidates heard: the recent messages (newest first) with their weights, the
    squared norm of their weighted sum and its norm, and the norm of that sum with the topic added."""

    said: tuple[tuple[float, _Said], ...]
    recent_squared: float
    recent_norm: float
    mixed_norm: float


class HeuristicScorer:
    """Scores candidates without a model call: relevance, expertise, participation and flow."""

    name = "heuristic"

    def planned_call(
        self, context: SelectionContext, candidates: Sequence[Persona]
    ) -> tuple[ModelId, Usage] | None:
        return None  # no model: nothing to reserve

    def __init__(self) -> None:
        self._topic: tuple[str, text.Vector, float, float] = ("", {}, 0.0, 0.0)
        """The topic, its vector, its squared norm and its norm."""
        self._profiles: dict[_ProfileKey, _Profile] = {}
        self._said: dict[str, _Said] = {}
        self._index = _Index(())
        self._seated: tuple[Persona, ...] = ()
        self._by_identity: dict[int, _Profile] = {}

    def _set_topic(self, topic: str) -> None:
        # A conversation keeps its topic for every turn; a new one invalidates every dot with it.
        if self._topic[0] != topic:
            vec = text.vector(topic, weight=TOPIC_WEIGHT)
            squared = text.dot(vec, vec)
            self._topic = (topic, vec, squared, math.sqrt(squared))
            self._profiles.clear()
            self._said.clear()
            self._index = _Index(())
            self._seated, self._by_identity = (), {}

    def _profile(self, persona: Persona) -> _Profile:
        # Keyed by content, so an edited persona is re-read (the seated members are found by
        # identity in `_seat`; this runs when the panel changes).
        key = (persona.id, hash((persona.role, persona.description, tuple(persona.expertise))))
        found = self._profiles.get(key)
        if found is None:
            expertise = " ".join(persona.expertise)
            profile = text.vector(
                f"{persona.role} {persona.description} {persona.category} {expertise} {expertise}"
            )
            skills = text.vector(f"{expertise} {persona.role}")
            topic = self._topic[1]
            found = self._profiles[key] = _Profile(
                key,
                profile,
                text.norm(profile),
                skills,
                text.norm(skills),
                text.dot(topic, profile),
                text.dot(topic, skills),
            )
        return found

    def _seat(self, members: Sequence[Persona]) -> dict[int, _Profile]:
        """The members' profiles by persona identity, and the term index over them; read again only
        when someone joined, left or was edited (the same persona objects turn after turn)."""
        seated = self._seated
        if len(members) != len(seated) or not all(map(operator.is_, members, seated)):
            profiles = [self._profile(persona) for persona in members]
            if len(profiles) != len(self._index.keys) or any(
                found.key != key for found, key in zip(profiles, self._index.keys, strict=False)
            ):
                self._index = _Index(profiles)
            self._seated = tuple(members)  # held, so the ids below stay theirs
            self._by_identity = {id(persona): found for persona, found in zip(members, profiles, strict=True)}
        return self._by_identity

    def _recent(self, context: SelectionContext) -> list[tuple[str, _Said]]:
        """The last few messages, newest first, with their speakers; only theirs are kept."""
        recent = []
        kept: dict[str, _Said] = {}
        for message in reversed(context.messages[-(len(RECENT_WEIGHTS) + 1) :]):
            said = kept.get(message.text) or self._said.get(message.text)
            if said is None:
                vec = text.vector(message.text)
                said = _Said(
                    message.text,
                    vec,
                    text.dot(vec, vec),
                    text.dot(vec, self._topic[1]),
                    self._index.dots(vec),
                )
            kept[message.text] = said
            recent.append((message.speaker_id, said))
        self._said = kept
        return recent

    async def score(self, context: SelectionContext, candidates: Sequence[Persona]) -> ScoreSheet:
        return ScoreSheet(factors=self.factors(context, candidates), scorer=self.name)

    def factors(self, context: SelectionContext, candidates: Sequence[Persona]) -> dict[str, Factors]:
        self._set_topic(context.topic)
        seated = self._seat(context.members)
        recent = self._recent(context)
        topic_squared = self._topic[2]
        # Candidates who heard the same messages share one sum: most of them said none of the last few.
        groups: dict[tuple[int, ...], _Heard] = {}
        raw: list[tuple[Persona, float, float]] = []
        best_relevance = best_expertise = 0.0  # cosines here are never negative
        speakers = [speaker for speaker, _ in recent]
        latest = speakers[: len(RECENT_WEIGHTS)]
        all_latest = tuple(range(len(latest)))
        for persona in candidates:
            # What the others said, newest first: a persona's own words must not make it look relevant.
            pid = persona.id
            key = (
                tuple([i for i, speaker in enumerate(speakers) if speaker != pid][: len(RECENT_WEIGHTS)])
                if pid in latest
                else all_latest
            )
            heard = groups.get(key)
            if heard is None:
                heard = groups[key] = _heard([recent[i][1] for i in key], topic_squared)
            found = seated.get(id(persona)) or self._profile(persona)
            on_profile = on_expertise = 0.0
            for weight, said in heard.said:
                dots = said.with_personas.get(found.key)
                if dots is None:
                    dots = said.with_personas[found.key] = (
                        text.dot(said.vector, found.profile),
                        text.dot(said.vector, found.expertise),
                    )
                on_profile += weight * dots[0]
                on_expertise += weight * dots[1]
            # Cosines: every weight and term count is positive, so a zero dot product means nothing in
            # common (or an empty vector, whose norm must not be divided by).
            if heard.recent_squared > 0.0:
                relevance = (
                    0.0 if on_profile == 0.0 else on_profile / (heard.recent_norm * found.profile_norm)
                )
            else:  # nothing heard yet, or only empty words: how the persona fits the topic
                on_topic = found.topic_profile
                relevance = 0.0 if on_topic == 0.0 else on_topic / (self._topic[3] * found.profile_norm)
            mixed = on_expertise + found.topic_expertise
            expertise = 0.0 if mixed == 0.0 else mixed / (heard.mixed_norm * found.expertise_norm)
            raw.append((persona, relevance, expertise))
            if relevance > best_relevance:
                best_relevance = relevance
            if expertise > best_expertise:
                best_expertise = expertise
        shares = participation(context, candidates)
        asked = addressed_by_last(context, candidates)
        persona_turns = context.persona_messages()
        before_last = persona_turns[-2].speaker_id if len(persona_turns) >= 2 else None
        result = {}
        # Relevance and expertise scaled into [0.5, 1], the best candidate's at 1.
        for persona, relevance, expertise in raw:
            pid = persona.id
            addressed = pid in asked
            result[pid] = Factors(
                1.0
                if addressed
                else (0.5 + 0.5 * relevance / best_relevance if best_relevance > 0.0 else 0.5),
                0.5 + 0.5 * expertise / best_expertise if best_expertise > 0.0 else 0.5,
                shares[pid],
                1.0 if addressed else 0.3 if pid == before_last else 0.5,
                addressed,
            )
        return result


def _heard(said: list[_Said], topic_squared: float) -> _Heard:
    weighted = tuple(zip(RECENT_WEIGHTS, said, strict=False))
    recent_squared = on_topic = 0.0
    for k, (weight, one) in enumerate(weighted):
        recent_squared += weight * weight * one.squared
        on_topic += weight * one.topic
        for other_weight, other in weighted[k + 1 :]:
            pair = one.with_said.get(other.words)
            if pair is None:
                pair = one.with_said[other.words] = other.with_said[one.words] = text.dot(
                    one.vector, other.vector
                )
            recent_squared += 2.0 * weight * other_weight * pair
    mixed_squared = recent_squared + 2.0 * on_topic + topic_squared
    return _Heard(weighted, recent_squared, math.sqrt(recent_squared), math.sqrt(mixed_squared))
