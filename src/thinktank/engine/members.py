"""A persona seated in a conversation, with the model stack it actually talks through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_ai.models import Model

from thinktank.domain import Persona
from thinktank.domain.suggest import closest
from thinktank.errors import UnknownIdError
from thinktank.models.ids import ModelId
from thinktank.models.stack import ModelFactory, ResolvedChain


@dataclass(frozen=True)
class Member:
    """A persona seated in a conversation with the model stack it speaks through."""

    persona: Persona
    models: tuple[ModelId, ...]
    """The chain that will be tried, in order, after dropping models that cannot be called here."""
    model: Model
    substituted: bool = False
    """True when the persona's own models had no key and a substitute stands in."""


def chain_for(persona: Persona, factory: ModelFactory, *, override: ModelId | None = None) -> ResolvedChain:
    """A persona's model and fallbacks (or the override), minus what has no key here."""
    if override is not None:
        return factory.resolve(override)
    return factory.resolve(persona.model_id, persona.fallback_ids)


def seat(persona: Persona, factory: ModelFactory, *, override: ModelId | None = None) -> Member:
    """Seat a persona on the chain it will actually talk through."""
    chain = chain_for(persona, factory, override=override)
    return Member(persona, chain.models, factory.build_exact(chain.models), substituted=chain.substituted)


def find_member(members: Sequence[Member], persona_id: str) -> Member:
    """The member seated as `persona_id`; an unknown id is refused with the closest ones suggested."""
    for member in members:
        if member.persona.id == persona_id:
            return member
    ids = [m.persona.id for m in members]
    raise UnknownIdError("member", persona_id, suggestions=closest(persona_id, ids))
