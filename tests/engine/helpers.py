"""Build engines on the scripted model (zero latency) and record their events."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

from thinktank.engine.engine import ConversationEngine
from thinktank.engine.events import Event
from thinktank.engine.setup import ConversationSpec, ScorerName, start_conversation
from thinktank.library.loader import Library, load_library
from thinktank.models.ids import SCRIPTED, ModelId
from thinktank.models.keys import ProviderKeys
from thinktank.models.stack import ModelFactory

E = TypeVar("E", bound=Event)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]


_LIBRARY: Library | None = None


def library() -> Library:
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = load_library()
    return _LIBRARY


def scripted_engine(
    *,
    template: str | None = "startup-product-planning",
    topic: str | None = None,
    personas: Sequence[str] = (),
    messages: int = 10,
    seed: int = 1,
    factory: ModelFactory | None = None,
    model: ModelId | None = SCRIPTED,
    max_cost: Decimal | None = None,
    budget: int = 1200,
    scorer: ScorerName = "heuristic",
    scorer_model: ModelId | None = None,
) -> tuple[ConversationEngine, Recorder]:
    recorder = Recorder()
    spec = ConversationSpec(
        template_id=template,
        topic=topic,
        persona_ids=personas,
        model_override=model,
        seed=seed,
        turn_delay=0.0,
        max_messages=messages,
        max_cost=max_cost,
        context_budget_tokens=budget,
        scorer=scorer,
        scorer_model=scorer_model,
    )
    engine = start_conversation(
        spec, library=library(), factory=factory or ModelFactory(keys=ProviderKeys()), sink=recorder
    )
    return engine, recorder
