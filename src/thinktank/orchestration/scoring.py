"""Scores, weights and the scorer interface shared by the heuristic and the LLM scorer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from thinktank.domain import Message, Persona, Usage
from thinktank.pricing.prices import FREE, Cost

WEIGHTS = {"relevance": 0.4, "expertise": 0.3, "participation": 0.2, "flow": 0.1}


@dataclass(frozen=True, slots=True)
class Factors:
    """Each in [0, 1]."""

    relevance: float
    expertise: float
    participation: float
    flow: float
    addressed: bool = False

    @property
    def weighted(self) -> float:
        return (
            WEIGHTS["relevance"] * self.relevance
            + WEIGHTS["expertise"] * self.expertise
            + WEIGHTS["participation"] * self.participation
            + WEIGHTS["flow"] * self.flow
        )


@dataclass(frozen=True, slots=True)
class SelectionContext:
    topic: str
    members: Sequence[Persona]
    messages: Sequence[Message]

    @property
    def turn_index(self) -> int:
        return len(self.messages)

    @property
    def last(self) -> Message | None:
        return self.messages[-1] if self.messages else None

    def persona_messages(self) -> list[Message]:
        return [m for m in self.messages if m.kind == "persona"]


@dataclass
class ScoreSheet:
    factors: dict[str, Factors]
    scorer: str
    usage: Usage = field(default_factory=Usage)
    cost: Cost = FREE
    model_id: str | None = None
    """The model whose call produced `usage` and `cost`, so the books can attribute them."""
    note: str | None = None


class Scorer(Protocol):
    name: str

    async def score(self, context: SelectionContext, candidates: Sequence[Persona]) -> ScoreSheet: ...


def participation(context: SelectionContext, candidates: Sequence[Persona]) -> dict[str, float]:
    """1 for someone silent in the recent window, 0.5 at a fair share, 0 at twice a fair share or more."""
    members = max(len(context.members), 1)
    window = context.persona_messages()[-2 * members :]
    if not window:
        return {p.id: 1.0 for p in candidates}
    fair = 1 / members
    result = {}
    for persona in candidates:
        share = sum(1 for m in window if m.speaker_id == persona.id) / len(window)
        result[persona.id] = min(max(1.0 - share / (2 * fair), 0.0), 1.0)
    return result


def is_addressed(persona: Persona, text: str) -> bool:
    """Asked directly: called by name at the start of a sentence ("Diana, ..."), named or called by
    role in a question ("What do you think, Diana?"), or @-mentioned. Merely being mentioned
    ("building on what Diana said") is not being addressed."""
    if f"@{persona.id}" in text.lower():
        return True
    first = re.escape(persona.name.split()[0])
    full = re.escape(persona.name)
    role = re.escape(persona.role)
    name = rf"(?:{full}|{first})(?![\w-])"
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        sentence = sentence.strip()
        if re.match(rf"(?:(?:so|and|but|ok|okay|well|now|hey)[,\s]+)?{name}\s*[,:?!]", sentence, re.I):
            return True
        if sentence.endswith("?") and (
            re.search(rf"(?<![\w-]){name}", sentence)
            or re.search(rf"(?<![\w-]){role}(?![\w-])", sentence, re.I)
        ):
            return True
    return False
