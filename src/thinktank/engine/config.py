"""What a conversation is set up with (`EngineConfig`), its fixed limits, and where its facts go as
they happen (`Persistence`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from thinktank.domain import DiscussionMode, Message, Usage
from thinktank.engine.context import Summary
from thinktank.engine.events import Status
from thinktank.errors import UserError
from thinktank.pricing.prices import Cost

MAX_INTERJECTION_CHARS = 4000
DEFAULT_REPLY_TOKENS = 300
MAX_FAILED_TURNS = 3
MAX_CONTINUE = 1000


def check_speed(speed: int) -> None:
    if not 1 <= speed <= 10:
        raise UserError(f"speed must be from 1 to 10, not {speed}")


@dataclass
class EngineConfig:
    """A conversation's settings: topic, mode, pacing, stop limits and reply sampling."""

    topic: str
    mode: DiscussionMode = "ideation"
    seed: int = 0
    speed: int = 5
    turn_delay: float | None = None
    """Seconds between auto turns; None means the seed's (11 - speed)."""
    max_messages: int | None = None
    max_cost: Decimal | None = None
    reply_tokens: int = DEFAULT_REPLY_TOKENS
    temperature: float = 0.8

    def delay(self) -> float:
        return self.turn_delay if self.turn_delay is not None else float(11 - self.speed)


class Persistence:
    """Where a conversation's facts go as they happen. The default keeps nothing (the engine holds
    everything in memory); the store implements it so a conversation survives a restart.

    A message is handed over only once it is complete, with its cost, so a crash mid-stream leaves
    no half-written message behind.
    """

    async def message_saved(self, message: Message) -> None:
        return None

    async def charge_saved(self, *, account: str, model_id: str | None, usage: Usage, cost: Cost) -> None:
        """A cost that belongs to no message: speaker selection, summaries."""
        return None

    async def state_saved(self, *, status: Status, reason: str, summary: Summary) -> None:
        return None
