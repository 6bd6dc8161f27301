"""What the engine tells the world. The CLI renders these now; the server streams them unchanged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from thinktank.domain import Message, TurnDecision
from thinktank.domain.vocabulary import ConversationStatus, stopped_on_its_own

Status = ConversationStatus


@dataclass(frozen=True, slots=True)
class TurnDecided:
    """A turn starts: who speaks, why, and on which models."""

    decision: TurnDecision
    speaker_name: str
    speaker_role: str
    model_ids: tuple[str, ...]
    type: str = "turn.decided"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "decision": self.decision.to_json(),
            "speaker_name": self.speaker_name,
            "speaker_role": self.speaker_role,
            "model_ids": list(self.model_ids),
        }


@dataclass(frozen=True, slots=True)
class TokenDelta:
    """A piece of the reply being streamed."""

    persona_id: str
    text: str
    type: str = "token.delta"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "persona_id": self.persona_id, "text": self.text}


@dataclass(frozen=True, slots=True)
class MessageCompleted:
    """A message was saved (a finished reply, an interjection, the topic)."""

    message: Message
    type: str = "message.completed"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message.to_json()}


@dataclass(frozen=True, slots=True)
class CostsUpdated:
    """The conversation's cost totals after a charge."""

    totals: dict[str, Any]
    type: str = "costs.updated"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "totals": self.totals}


@dataclass(frozen=True, slots=True)
class MembersChanged:
    """A member joined, left or was edited; `members` is the panel now."""

    members: tuple[str, ...]
    change: str
    type: str = "members.changed"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "members": list(self.members), "change": self.change}


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The conversation's status changed (saved before this is published)."""

    status: Status
    reason: str
    type: str = "state.changed"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "stalled": stopped_on_its_own(self.status, self.reason),
        }


@dataclass(frozen=True, slots=True)
class ProviderRetrying:
    """A persona's provider failed transiently; the next attempt starts after `wait_s` seconds."""

    persona_id: str
    provider: str
    attempt: int
    attempts: int
    wait_s: float
    error: str
    type: str = "turn.retrying"

    @property
    def message(self) -> str:
        return f"waiting for {self.provider}… retrying ({self.attempt}/{self.attempts})"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "persona_id": self.persona_id,
            "provider": self.provider,
            "attempt": self.attempt,
            "attempts": self.attempts,
            "wait_s": round(self.wait_s, 3),
            "error": self.error,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ErrorOccurred:
    """A turn failed: the message a user may read, and the error's kind."""

    message: str
    persona_id: str | None
    error: str
    type: str = "error"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "persona_id": self.persona_id,
            "error": self.error,
        }


Event = (
    TurnDecided
    | TokenDelta
    | MessageCompleted
    | CostsUpdated
    | MembersChanged
    | StateChanged
    | ErrorOccurred
    | ProviderRetrying
)
EventSink = Callable[[Event], Awaitable[None]]


async def discard(event: Event) -> None:
    """A sink for callers that only want the return values."""
