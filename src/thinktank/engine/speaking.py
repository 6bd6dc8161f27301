"""One member speaking one turn: the reply streamed under the speaker guard, the message it makes,
and, when it makes none, why."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic_ai.messages import ModelMessage

from thinktank.domain import Message, Persona, TurnDecision
from thinktank.engine.config import EngineConfig
from thinktank.engine.events import Event
from thinktank.engine.members import Member
from thinktank.engine.prompts import prompt_style_for, reply_settings
from thinktank.engine.reply import Reply, stream_reply
from thinktank.engine.speaker_guard import SpeakerGuard
from thinktank.errors import public_message
from thinktank.pricing.prices import Pricer


@dataclass
class Turn:
    """The orchestrator's choice for a turn, the member chosen, and when the turn started."""

    decision: TurnDecision
    member: Member
    started: float = field(default_factory=time.perf_counter)


async def stream_turn(
    member: Member,
    prompt: list[ModelMessage],
    *,
    others: list[Persona],
    config: EngineConfig,
    pricer: Pricer,
    emit: Callable[[Event], Awaitable[None]],
    show_words: bool = True,
) -> Reply:
    guard = SpeakerGuard(
        own_name=member.persona.name,
        own_role=member.persona.role,
        others=[(p.name, p.role) for p in others],
    )
    settings = reply_settings(
        member.persona,
        others=others,
        style=prompt_style_for(member.models[0]),
        max_tokens=config.reply_tokens,
        temperature=config.temperature,
    )
    return await stream_reply(
        member, prompt, guard=guard, settings=settings, pricer=pricer, emit=emit, show_words=show_words
    )


def why_silent(reply: Reply) -> str:
    """Why a reply with no text came to nothing."""
    if reply.failure is not None:
        return public_message(reply.failure)
    if reply.guard_cut:
        return "the reply spoke for someone else or recited its instructions, so it was cut"
    return "the model's reply was empty"


def persona_message(turn: Turn, reply: Reply, *, index: int) -> Message:
    ended = time.perf_counter()
    member, first_token = turn.member, reply.first_token_at
    return Message(
        index=index,
        kind="persona",
        speaker_id=member.persona.id,
        speaker_name=member.persona.name,
        speaker_role=member.persona.role,
        text=reply.text,
        created_at=datetime.now(UTC),
        model_id=reply.model_id,
        usage=reply.usage,
        cost=reply.cost,
        latency_s=ended - turn.started,
        time_to_first_token_s=None if first_token is None else first_token - turn.started,
        decision=turn.decision,
        incomplete=reply.error is not None,
        error=reply.error,
        usage_estimated=reply.usage_estimated,
    )
