"""Read a finished (non-streamed) response of our model stack: its text, usage, price and model."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_ai.messages import ModelResponse, TextPart

from thinktank.domain.conversation import Usage
from thinktank.models.streaming import thinktank_facts
from thinktank.pricing.prices import Cost


@dataclass(frozen=True, slots=True)
class Answer:
    """A model's whole answer to one request: its text, usage and cost."""

    text: str
    usage: Usage
    cost: Cost | None
    """None when the response went through no cost wrapper."""
    model_id: str | None
    """The model that actually answered, as recorded by the fallback chain."""


def read_answer(response: ModelResponse) -> Answer:
    facts = thinktank_facts(response)
    return Answer(
        text="".join(p.content for p in response.parts if isinstance(p, TextPart)),
        usage=Usage(response.usage.input_tokens, response.usage.output_tokens, 1),
        cost=Cost.from_json(facts["cost"]) if "cost" in facts else None,
        model_id=facts.get("model_id"),
    )
