"""Which models users may choose on this server: the deployment's rules, not a user's plan.

Production refuses the scripted model to real people, and with sign-in a `local:` model must be one
the server offers (never a path a user names).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from thinktank.domain import Persona
from thinktank.models.ids import ModelId
from thinktank.ops.profiles import Profile, refuse_scripted, refuse_server_paths


class ModelRules:
    """Checks the models a conversation, a memo or a saved persona names against the deployment."""

    def __init__(self, profile: Profile, *, local_models: Sequence[ModelId] | None) -> None:
        self.profile = profile
        self.local_models = local_models
        """None: any `local:` path (one user, on their own machine); else only these local models."""

    def check(self, models: Iterable[ModelId | None]) -> None:
        models = list(models)
        refuse_scripted(models, profile=self.profile)
        if self.local_models is not None:
            refuse_server_paths(models, offered=self.local_models)

    def check_persona(self, persona: Persona) -> None:
        """A persona a user saves names only models this server lets users choose."""
        self.check([persona.model_id, *persona.fallback_ids])

    @staticmethod
    def first_models(personas: Iterable[Persona]) -> list[ModelId]:
        """The model each persona speaks through first (its fallbacks only stand in for it)."""
        return [p.model_id for p in personas]
