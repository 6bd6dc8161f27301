"""Templates with what they would cost here, and personas drafted from one sentence."""

from __future__ import annotations

from typing import Any

from thinktank.conversations import ConversationService
from thinktank.domain.library import slug_of
from thinktank.engine.drafting import PersonaDraft, draft_persona
from thinktank.engine.members import chain_for
from thinktank.models.ids import parse_model_id
from thinktank.models.stack import ModelFactory
from thinktank.presenters.schemas import TemplatePublic
from thinktank.pricing.estimate import estimate_conversation_cost
from thinktank.pricing.prices import Cost


class PersonaDraftPublic(PersonaDraft):
    """A drafted persona as the builder's fields, not saved: edit it, then save it as a persona."""

    id: str
    model: str


async def persona_draft(
    service: ConversationService, user_id: str, *, sentence: str, model: str | None
) -> dict[str, Any]:
    """A persona drafted by the chosen model, as the builder's fields (unset ones left out)."""
    factory = await service.factory_for(user_id)
    model_id = parse_model_id(model) if model else factory.substitute
    draft = await draft_persona(sentence, model=factory.build(model_id))
    fields = draft.model_dump(exclude_none=True)
    return fields | {"id": slug_of(draft.name), "model": str(model_id)}


def _usd(cost: Cost) -> str | None:
    return None if cost.billed is None else f"{cost.billed:.4f}"


def template_public(
    service: ConversationService, template_id: str, *, factory: ModelFactory | None = None
) -> TemplatePublic:
    """With the cost on the personas' own models, and on what will answer with these keys (the
    server's, or a user's factory): a panel without keys runs free on the local model."""
    template = service.library.template(template_id)
    factory = factory or service.factory
    personas = service.library.template_personas(template)
    runs = {p.id: chain_for(p, factory).models[0] for p in personas}
    wanted, running = (
        estimate_conversation_cost(
            personas,
            template.estimated_messages,
            pricer=factory.pricer,
            topic=template.initial_prompt,
            model_for=model_for,
        )
        for model_for in (None, lambda p: runs[p.id])
    )
    return TemplatePublic(
        **template.model_dump(),
        estimated_cost_usd=_usd(wanted),
        running_cost_usd=_usd(running),
        runs_on=[str(runs[p.id]) for p in personas],
    )
