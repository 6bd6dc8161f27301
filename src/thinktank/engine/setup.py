"""Turn a request ("this template" or "this topic with these people") into a running engine.

The CLI starts conversations here, and the service restores stored ones through `build_engine`, so
an engine is put together in one place.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from thinktank.domain import DiscussionMode, Message, Persona
from thinktank.engine.budget import Budget
from thinktank.engine.config import EngineConfig, Persistence
from thinktank.engine.context import DEFAULT_BUDGET_TOKENS, ContextWindow
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.events import EventSink, discard
from thinktank.engine.members import Member, seat
from thinktank.engine.totals import CostTotals
from thinktank.errors import UserError
from thinktank.library.loader import Library
from thinktank.models.ids import ModelId
from thinktank.models.stack import ModelFactory
from thinktank.orchestration.heuristic import HeuristicScorer
from thinktank.orchestration.llm import LlmScorer
from thinktank.orchestration.orchestrator import TurnOrchestrator
from thinktank.orchestration.scoring import Scorer

ScorerName = Literal["heuristic", "llm"]
DEFAULT_MESSAGES = 10


@dataclass
class ConversationSpec:
    """What a new conversation is made from: a template or a topic and personas, models, limits and pace."""

    template_id: str | None = None
    topic: str | None = None
    persona_ids: Sequence[str] = ()
    custom_personas: Sequence[Persona] = ()
    mode: DiscussionMode | None = None
    scorer: ScorerName = "heuristic"
    scorer_model: ModelId | None = None
    summary_model: ModelId | None = None
    model_override: ModelId | None = None
    seed: int | None = None
    speed: int = 5
    turn_delay: float | None = None
    max_messages: int | None = None
    max_cost: Decimal | None = None
    context_budget_tokens: int = DEFAULT_BUDGET_TOKENS
    reply_tokens: int = 300
    extra: dict[str, str] = field(default_factory=dict)


def resolve_personas(
    spec: ConversationSpec, library: Library
) -> tuple[str, DiscussionMode, list[Persona], int]:
    """Topic, mode, personas and message count for a spec; a user error if they do not add up."""
    personas: list[Persona] = []
    if spec.template_id is not None:
        template = library.template(spec.template_id)
        topic = spec.topic or template.initial_prompt
        mode = spec.mode or template.mode
        personas = library.template_personas(template)
        messages = spec.max_messages or template.estimated_messages
    else:
        if not spec.topic or not spec.topic.strip():
            raise UserError("give a topic, or start from a template")
        topic, mode, messages = spec.topic, spec.mode or "ideation", spec.max_messages or DEFAULT_MESSAGES
    extra = [library.persona(pid) for pid in spec.persona_ids] + list(spec.custom_personas)
    seen = {p.id for p in personas}
    for persona in extra:
        if persona.id in seen:
            raise UserError(f"{persona.name} ({persona.id}) is on the panel twice")
        seen.add(persona.id)
        personas.append(persona)
    if not personas:
        raise UserError("a conversation needs at least one persona: pick a template or choose personas")
    if messages < 1:
        raise UserError("the number of messages must be at least 1")
    return topic, mode, personas, messages


@dataclass(frozen=True, kw_only=True)
class ModelChoice:
    """The models a conversation chose beyond its personas' own: one model for everyone, the scorer's
    and the summariser's."""

    override: ModelId | None = None
    scorer: ScorerName = "heuristic"
    scorer_model: ModelId | None = None
    summary_model: ModelId | None = None


def build_scorer(
    scorer: ScorerName, *, model: ModelId | None, factory: ModelFactory, members: Sequence[Member]
) -> Scorer:
    if scorer == "heuristic":
        return HeuristicScorer()
    chosen = model or members[0].models[0]
    return LlmScorer(factory.build(chosen), model_id=chosen)


def build_engine(
    config: EngineConfig,
    *,
    personas: Sequence[Persona],
    choice: ModelChoice,
    factory: ModelFactory,
    context: ContextWindow,
    sink: EventSink = discard,
    persistence: Persistence | None = None,
    history: Sequence[Message] = (),
    totals: CostTotals | None = None,
    budget: Budget | None = None,
) -> ConversationEngine:
    """The one way an engine is put together, for a new conversation (the CLI) and for a stored one
    (the service restores it with its history, books and budget)."""
    members = [seat(p, factory, override=choice.override) for p in personas]
    summarizer = None
    if choice.summary_model is not None:
        summarizer = Member(personas[0], (choice.summary_model,), factory.build(choice.summary_model))
    scorer = build_scorer(choice.scorer, model=choice.scorer_model, factory=factory, members=members)
    return ConversationEngine(
        config,
        members=members,
        orchestrator=TurnOrchestrator(scorer, seed=config.seed),
        pricer=factory.pricer,
        context=context,
        sink=sink,
        persistence=persistence,
        clock=factory.clock,
        summarizer=summarizer,
        history=history,
        totals=totals,
        budget=budget,
    )


def start_conversation(
    spec: ConversationSpec,
    *,
    library: Library,
    factory: ModelFactory,
    sink: EventSink = discard,
    persistence: Persistence | None = None,
) -> ConversationEngine:
    topic, mode, personas, messages = resolve_personas(spec, library)
    seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
    config = EngineConfig(
        topic=topic,
        mode=mode,
        seed=seed,
        speed=spec.speed,
        turn_delay=spec.turn_delay,
        max_messages=messages,
        max_cost=spec.max_cost,
        reply_tokens=spec.reply_tokens,
    )
    choice = ModelChoice(
        override=spec.model_override,
        scorer=spec.scorer,
        scorer_model=spec.scorer_model,
        summary_model=spec.summary_model,
    )
    return build_engine(
        config,
        personas=personas,
        choice=choice,
        factory=factory,
        context=ContextWindow(budget_tokens=spec.context_budget_tokens),
        sink=sink,
        persistence=persistence,
    )
