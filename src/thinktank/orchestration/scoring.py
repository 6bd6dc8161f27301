"""Scores, weights and the scorer interface shared by the heuristic and the LLM scorer."""

from __future__ import annotations

import functools
import operator
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from thinktank.domain import Message, Persona, Usage
from thinktank.models.ids import ModelId
from thinktank.pricing.prices import FREE, Cost

_SPEAKER = operator.attrgetter("speaker_id")
WEIGHTS = {"relevance": 0.4, "expertise": 0.3, "participation": 0.2, "flow": 0.1}


class Factors(NamedTuple):
    """Each in [0, 1]. A named tuple: a scorer makes one per candidate per turn, and a tuple is
    built in a third of the time a frozen dataclass takes."""

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


@dataclass(frozen=True)
class SelectionContext:
    """What a scorer sees: the topic, the members, and the messages so far."""

    topic: str
    members: Sequence[Persona]
    messages: Sequence[Message]
    spoken: Sequence[Message] | None = None
    """The personas' messages among `messages`, when the caller keeps them (read, not scanned for)."""

    @property
    def turn_index(self) -> int:
        return len(self.messages)

    @property
    def last(self) -> Message | None:
        return self.messages[-1] if self.messages else None

    def persona_messages(self) -> Sequence[Message]:
        """The personas' messages, oldest first (not to be changed: one list serves every reader)."""
        return self._persona_messages

    @functools.cached_property
    def _persona_messages(self) -> Sequence[Message]:
        # Read four times a decision (shares, flow, the ping-pong and silence rules): scanned once.
        if self.spoken is not None:
            return self.spoken
        return [m for m in self.messages if m.kind == "persona"]


@dataclass
class ScoreSheet:
    """A scorer's factors per candidate, and what scoring cost."""

    factors: dict[str, Factors]
    scorer: str
    usage: Usage = field(default_factory=Usage)
    cost: Cost = FREE
    model_id: str | None = None
    """The model whose call produced `usage` and `cost`, so the books can attribute them."""
    note: str | None = None


class Scorer(Protocol):
    """Scores the candidates for the next turn."""

    name: str

    async def score(self, context: SelectionContext, candidates: Sequence[Persona]) -> ScoreSheet: ...

    def planned_call(
        self, context: SelectionContext, candidates: Sequence[Persona]
    ) -> tuple[ModelId, Usage] | None:
        """The model call `score` would make and the most it may use (None: no model call), so the
        engine can reserve it before the turn starts."""
        ...


def participation(context: SelectionContext, candidates: Sequence[Persona]) -> dict[str, float]:
    """1 for someone silent in the recent window, 0.5 at a fair share, 0 at twice a fair share or more."""
    members = max(len(context.members), 1)
    window = context.persona_messages()[-2 * members :]
    if not window:
        return {p.id: 1.0 for p in candidates}
    fair = 1 / members
    said = Counter(map(_SPEAKER, window))
    result = {}
    for persona in candidates:
        share = said[persona.id] / len(window)
        result[persona.id] = min(max(1.0 - share / (2 * fair), 0.0), 1.0)
    return result


def is_addressed(persona: Persona, text: str) -> bool:
    """Asked directly: called by name at the start of a sentence ("Diana, ..."), named or called by
    role in a question ("What do you think, Diana?"), or @-mentioned. Merely being mentioned
    ("building on what Diana said") is not being addressed."""
    return bool(addressed_in(text, (persona,)))


def addressed_by_last(context: SelectionContext, candidates: Sequence[Persona]) -> set[str]:
    """The candidates the last message asks directly (`is_addressed`); nobody addresses themselves."""
    last = context.last
    if last is None:
        return set()
    return set(addressed_in(last.text, [p for p in candidates if p.id != last.speaker_id]))


def addressed_in(text: str, personas: Iterable[Persona]) -> list[str]:
    """The ids of the personas `text` asks directly (`is_addressed`), in their order."""
    lowered = _lowered(text)
    plain = text.isascii()
    asked = []
    for persona in personas:
        if f"@{persona.id}" in lowered:
            asked.append(persona.id)
            continue
        called, named, by_role, first, role = _address_patterns(persona.name, persona.role)
        if plain and first not in lowered and role not in lowered:
            # Every pattern below needs the first name or the role (the full name starts with it); on
            # ASCII text, lowercasing agrees with the patterns' case-insensitive matching.
            continue
        for sentence in _sentences(text):
            if called.match(sentence) or (
                sentence.endswith("?") and (named.search(sentence) or by_role.search(sentence))
            ):
                asked.append(persona.id)
                break
    return asked


@functools.lru_cache(maxsize=4096)
def _address_patterns(
    name: str, role: str
) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], str, str]:
    """Compiled once per persona: every turn asks each candidate whether the last message named them.
    With the patterns, the lowercase first name and role that each of them needs."""
    first = re.escape(name.split()[0])
    full = re.escape(name)
    called_name = rf"(?:{full}|{first})(?![\w-])"
    return (
        re.compile(rf"(?:(?:so|and|but|ok|okay|well|now|hey)[,\s]+)?{called_name}\s*[,:?!]", re.I),
        re.compile(rf"(?<![\w-]){called_name}"),
        re.compile(rf"(?<![\w-]){re.escape(role)}(?![\w-])", re.I),
        name.split()[0].lower(),
        role.lower(),
    )


@functools.lru_cache(maxsize=1024)
def _lowered(text: str) -> str:
    return text.lower()


@functools.lru_cache(maxsize=1024)
def _sentences(text: str) -> tuple[str, ...]:
    # The same last message is split for every candidate of a turn: once is enough.
    return tuple(sentence.strip() for sentence in re.split(r"(?<=[.!?])\s+|\n+", text))
