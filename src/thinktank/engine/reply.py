"""One persona's reply as it streams: shown through the speaker guard, bounded in length, and booked
to the model that wrote it with the tokens it really used (counted here when the provider said
nothing).

Three things end a reply early: the provider fails (the text so far is kept, marked incomplete), the
speaker guard cuts it (it started speaking for someone else), or it runs well past the reply limit
because the server ignored it (cut here, marked incomplete). Stopping the stream stops the spending.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.settings import ModelSettings

from thinktank.domain import Usage
from thinktank.engine.events import Event, ProviderRetrying, TokenDelta
from thinktank.engine.members import Member
from thinktank.engine.speaker_guard import SpeakerGuard
from thinktank.errors import ProviderFailure
from thinktank.models.chat import approximate_tokens
from thinktank.models.ids import parse_model_id
from thinktank.models.layers import open_stream
from thinktank.models.notices import RetryNotice, retry_notices
from thinktank.models.streaming import text_deltas, thinktank_facts
from thinktank.models.tokens import estimate_usage
from thinktank.pricing.prices import Cost, Pricer

OVERRUN_FACTOR = 1.5
"""How far past the requested reply limit a reply may run (by the ~4 characters a token estimate)
before it is cut here: a server that honours the limit never gets near it."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A persona's finished reply: its text, the model that wrote it, usage, cost and timings."""

    text: str
    model_id: str
    """The model that wrote the text (a fallback's, when the primary failed before it)."""
    usage: Usage
    cost: Cost
    usage_estimated: bool
    error: str | None
    """Why the reply is incomplete: the provider's failure, or the cut at the length limit."""
    failure: ProviderFailure | None
    guard_cut: bool
    first_token_at: float | None


async def stream_reply(
    member: Member,
    prompt: list[ModelMessage],
    *,
    guard: SpeakerGuard,
    settings: ModelSettings,
    pricer: Pricer,
    emit: Callable[[Event], Awaitable[None]],
    show_words: bool = True,
) -> Reply:
    """`show_words=False` sends no `TokenDelta` (nobody is watching): a reply is a few dozen chunks,
    and an event built for each is time spent for no one."""
    persona_id = member.persona.id
    reply_tokens = settings.get("max_tokens")
    limit_chars = None if reply_tokens is None else int(reply_tokens * OVERRUN_FACTOR) * 4
    produced: list[str] = []
    produced_chars = 0
    overran = False
    first_token: float | None = None
    failure: ProviderFailure | None = None
    response: ModelResponse | None = None

    async def retrying(notice: RetryNotice) -> None:
        await emit(
            ProviderRetrying(
                persona_id, notice.provider, notice.attempt, notice.attempts, notice.wait_s, notice.error
            )
        )

    with retry_notices(retrying):
        stream = None
        try:
            async with open_stream(member.model, prompt, settings) as stream:
                async for delta in text_deltas(stream):
                    if first_token is None:
                        first_token = time.perf_counter()
                    produced.append(delta)
                    produced_chars += len(delta)
                    if (shown := guard.feed(delta)) and show_words:
                        await emit(TokenDelta(persona_id, shown))
                    overran = limit_chars is not None and produced_chars > limit_chars
                    if guard.cut or overran:
                        break
        except ProviderFailure as exc:
            failure = exc
        if stream is not None:
            response = stream.get()
    if (tail := guard.finish()) and show_words:
        await emit(TokenDelta(persona_id, tail))
    facts = thinktank_facts(response) if response is not None else {}
    model_id = facts.get("model_id") or str(member.models[0])
    if "cost" in facts and response is not None:
        usage = Usage(response.usage.input_tokens, response.usage.output_tokens, 1)
        cost = Cost.from_json(facts["cost"])
        estimated = bool(facts.get("usage_estimated"))
    else:
        # The stream ended before the provider reported usage: count it so the books stay honest
        # (everything the model wrote was paid for, the part the guard cut included).
        counted = estimate_usage(parse_model_id(model_id), prompt, "".join(produced))
        usage = Usage(counted.input_tokens, counted.output_tokens, 1)
        cost = pricer.price(
            parse_model_id(model_id), input_tokens=usage.input_tokens, output_tokens=usage.output_tokens
        )
        estimated = True
    error = None if failure is None else f"{type(failure).__name__}: {failure}"
    if overran and not guard.cut:
        error = (
            f"cut at about {approximate_tokens(guard.text)} tokens: the model ran past the reply limit"
            f" of {reply_tokens} tokens"
        )
    return Reply(
        text=guard.text,
        model_id=model_id,
        usage=usage,
        cost=cost,
        usage_estimated=estimated,
        error=error,
        failure=failure,
        guard_cut=guard.cut,
        first_token_at=first_token,
    )
