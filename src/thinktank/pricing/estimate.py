"""Estimated cost of a conversation, computed from current prices, never typed by hand.

The estimate assumes the personas speak in turn, each reply about `reply_tokens` long, and each
prompt holding the persona's system prompt, a fixed overhead (mode, roster, topic) and the
transcript so far up to the bounded context window that the engine keeps. It is a planning
figure: real conversations report their real cost per message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from thinktank.domain import Persona
from thinktank.domain.ids import ModelId
from thinktank.domain.tokens import approximate_tokens
from thinktank.pricing.prices import ZERO, Cost, Pricer


@dataclass(frozen=True, slots=True)
class EstimateAssumptions:
    """The guesses behind a cost estimate: reply length, prompt overhead, context size."""

    reply_tokens: int = 180
    prompt_overhead_tokens: int = 150
    context_window_tokens: int = 3000


def estimate_conversation_cost(
    personas: Sequence[Persona],
    messages: int,
    *,
    pricer: Pricer,
    topic: str = "",
    model_override: ModelId | None = None,
    model_for: Callable[[Persona], ModelId] | None = None,
    assumptions: EstimateAssumptions | None = None,
) -> Cost:
    """Priced on each persona's own model (or the override); `model_for` prices the model that
    will really answer instead (a free local model where a key is missing)."""
    if not personas or messages <= 0:
        return Cost(ZERO, ZERO)
    a = assumptions or EstimateAssumptions()
    total = Cost(ZERO, ZERO)
    transcript = approximate_tokens(topic)
    for turn in range(messages):
        persona = personas[turn % len(personas)]
        model = model_for(persona) if model_for is not None else model_override or persona.model_id
        prompt = (
            approximate_tokens(persona.system_prompt)
            + a.prompt_overhead_tokens
            + min(transcript, a.context_window_tokens)
        )
        total = total + pricer.price(model, input_tokens=prompt, output_tokens=a.reply_tokens)
        transcript += a.reply_tokens
    return total
