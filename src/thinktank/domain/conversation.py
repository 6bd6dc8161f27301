"""A conversation as data: who spoke, what it cost, and why they were chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from thinktank.domain.money import Cost

MessageKind = Literal["persona", "user"]
ChosenBy = Literal["orchestrator", "fallback", "user", "addressed"]
USER_SPEAKER_ID = "user"


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one or more model calls; adds up with `+`."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.requests + other.requests,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Alternative:
    """A member the orchestrator considered for a turn, with the score it gave them."""

    persona_id: str
    score: float


@dataclass(frozen=True, slots=True)
class TurnDecision:
    """Who speaks next and why: the chosen member, the reason, the confidence and the alternatives."""

    persona_id: str
    reason: str
    confidence: float
    alternatives: tuple[Alternative, ...] = ()
    scorer: str = "heuristic"
    chosen_by: ChosenBy = "orchestrator"
    selection_usage: Usage = field(default_factory=Usage)
    selection_cost: Cost = field(default_factory=lambda: Cost(Decimal(0), Decimal(0)))
    selection_model_id: str | None = None
    """The model that scored the candidates (None for the heuristic, which calls none)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "persona_id": self.persona_id,
            "reason": self.reason,
            "confidence": round(self.confidence, 4),
            "alternatives": [
                {"persona_id": a.persona_id, "score": round(a.score, 4)} for a in self.alternatives
            ],
            "scorer": self.scorer,
            "chosen_by": self.chosen_by,
            "selection_tokens": self.selection_usage.total_tokens,
            "selection_cost": self.selection_cost.to_json(),
            "selection_model_id": self.selection_model_id,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TurnDecision:
        """The inverse of `to_json` (the selection's tokens come back as one total)."""
        return cls(
            persona_id=d["persona_id"],
            reason=d["reason"],
            confidence=d["confidence"],
            alternatives=tuple(Alternative(a["persona_id"], a["score"]) for a in d.get("alternatives", [])),
            scorer=d.get("scorer", "heuristic"),
            chosen_by=d.get("chosen_by", "orchestrator"),
            selection_usage=Usage(0, d.get("selection_tokens", 0), 0),
            selection_cost=Cost.from_json(d.get("selection_cost") or {"raw_usd": "0", "billed_usd": "0"}),
            selection_model_id=d.get("selection_model_id"),
        )


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a transcript (the topic, a persona's reply, a user's interjection), with what
    it cost and how it was chosen; stored as a row, sent as JSON."""

    index: int
    kind: MessageKind
    speaker_id: str
    speaker_name: str
    speaker_role: str
    text: str
    created_at: datetime
    model_id: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost: Cost = field(default_factory=lambda: Cost(Decimal(0), Decimal(0)))
    latency_s: float | None = None
    time_to_first_token_s: float | None = None
    decision: TurnDecision | None = None
    incomplete: bool = False
    error: str | None = None
    usage_estimated: bool = False
    """The provider reported no usage, so the tokens were counted here (see `models.tokens`)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "speaker_id": self.speaker_id,
            "speaker_name": self.speaker_name,
            "speaker_role": self.speaker_role,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "model_id": self.model_id,
            "usage": {"input_tokens": self.usage.input_tokens, "output_tokens": self.usage.output_tokens},
            "cost": self.cost.to_json(),
            "latency_s": None if self.latency_s is None else round(self.latency_s, 4),
            "time_to_first_token_s": None
            if self.time_to_first_token_s is None
            else round(self.time_to_first_token_s, 4),
            "decision": None if self.decision is None else self.decision.to_json(),
            "incomplete": self.incomplete,
            "error": self.error,
            "usage_estimated": self.usage_estimated,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Message:
        usage = d.get("usage") or {}
        return cls(
            index=d["index"],
            kind=d["kind"],
            speaker_id=d["speaker_id"],
            speaker_name=d["speaker_name"],
            speaker_role=d["speaker_role"],
            text=d["text"],
            created_at=datetime.fromisoformat(d["created_at"]),
            model_id=d.get("model_id"),
            usage=Usage(
                usage.get("input_tokens", 0),
                usage.get("output_tokens", 0),
                1 if d["kind"] == "persona" else 0,
            ),
            cost=Cost.from_json(d.get("cost") or {}),
            latency_s=d.get("latency_s"),
            time_to_first_token_s=d.get("time_to_first_token_s"),
            decision=None if d.get("decision") is None else TurnDecision.from_json(d["decision"]),
            incomplete=bool(d.get("incomplete")),
            error=d.get("error"),
            usage_estimated=bool(d.get("usage_estimated")),
        )
