"""Build the model a persona talks through: cost <- fallback <- breaker <- retry <- provider.

`ModelFactory` is created once per app (or CLI run) from settings, keys and a clock, and builds
that stack for any `provider:model` id plus its fallbacks. Streams that fail after text reached
the caller are not retried (see `resilience.retry`); the engine keeps the partial text, marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx2
from pydantic_ai.models import Model

from thinktank.models.clock import Clock, SystemClock
from thinktank.models.cost import CostedModel
from thinktank.models.ids import LOCAL_DEFAULT, ModelId
from thinktank.models.keys import ProviderKeys
from thinktank.models.local import LocalModel, LocalModelPool, default_local_pool
from thinktank.models.local_server import ServerCatalog, model_ids
from thinktank.models.providers import build_cloud_model
from thinktank.models.resilience.breaker import BreakerModel, BreakerRegistry
from thinktank.models.resilience.deadline import DeadlineModel, Deadlines
from thinktank.models.resilience.fallback import FallbackChain
from thinktank.models.resilience.retry import RetryingModel, RetryPolicy
from thinktank.models.scripted import NO_LATENCY, Latency, ScriptedModel
from thinktank.models.translate import RejectedKey, TranslatedErrors
from thinktank.pricing.prices import Pricer


@dataclass(frozen=True, slots=True)
class ResolvedChain:
    """The models a persona will actually use, and whether missing keys forced a substitute."""

    models: tuple[ModelId, ...]
    wanted: tuple[ModelId, ...]

    @property
    def substituted(self) -> bool:
        return self.models != self.wanted


class ModelFactory:
    """Builds the model stack a persona talks through (cost, fallback, breaker, retry, deadline,
    provider) from model ids and keys, sharing breakers and local models."""

    def __init__(
        self,
        *,
        keys: ProviderKeys,
        pricer: Pricer | None = None,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        breakers: BreakerRegistry | None = None,
        http_client: httpx2.AsyncClient | None = None,
        local_pool: LocalModelPool | None = None,
        scripted_latency: Latency = NO_LATENCY,
        substitute: ModelId = LOCAL_DEFAULT,
        on_rejected_key: RejectedKey | None = None,
        catalog: ServerCatalog | None = None,
        deadlines: Deadlines | None = None,
    ) -> None:
        self.keys = keys
        self.deadlines = deadlines or Deadlines()
        self.catalog = catalog or ServerCatalog(http_client)
        self.pricer = pricer or Pricer()
        self.clock = clock or SystemClock()
        self.retry_policy = retry_policy or RetryPolicy()
        self.breakers = breakers or BreakerRegistry(clock=self.clock)
        self.substitute = substitute
        self._http_client = http_client
        self._local_pool = local_pool
        self._scripted_latency = scripted_latency
        self._on_rejected_key = on_rejected_key

    def with_keys(self, keys: ProviderKeys, *, on_rejected_key: RejectedKey | None = None) -> ModelFactory:
        """The same factory (prices, clock, breakers, loaded local models) with other credentials."""
        return ModelFactory(
            keys=keys,
            pricer=self.pricer,
            clock=self.clock,
            retry_policy=self.retry_policy,
            breakers=self.breakers,
            http_client=self._http_client,
            local_pool=self._local_pool,
            scripted_latency=self._scripted_latency,
            substitute=self.substitute,
            on_rejected_key=on_rejected_key,
            catalog=self.catalog,
            deadlines=self.deadlines,
        )

    async def server_models(self) -> list[ModelId]:
        """The models of the OpenAI-compatible server these keys point at ([] without one, or
        while it does not answer)."""
        if self.keys.openai_compatible_base_url is None:
            return []
        names = await self.catalog.models(
            self.keys.openai_compatible_base_url, api_key=self.keys.openai_compatible_key
        )
        return model_ids(names)

    def raw(self, model_id: ModelId) -> Model:
        """The bare model for an id: our error tree out, a cloud model's waits bounded; no retry."""
        if model_id.provider == "scripted":
            return ScriptedModel(model_id.name, latency=self._scripted_latency, clock=self.clock)
        if model_id.provider == "local":
            return LocalModel(model_id.name, pool=self._local_pool or default_local_pool())
        cloud = build_cloud_model(
            model_id, keys=self.keys, http_client=self._http_client, deadlines=self.deadlines
        )
        translated = TranslatedErrors(
            cloud,
            model_id=model_id,
            offline_transport=self._http_client is not None,
            on_rejected_key=self._on_rejected_key,
        )
        return DeadlineModel(translated, deadlines=self.deadlines, provider=model_id.provider)

    def resilient(self, model_id: ModelId) -> Model:
        retrying = RetryingModel(self.raw(model_id), policy=self.retry_policy, clock=self.clock)
        return BreakerModel(retrying, breaker=self.breakers.for_provider(model_id.provider))

    def resolve(self, primary: ModelId, fallbacks: Sequence[ModelId] = ()) -> ResolvedChain:
        """Drop the models that cannot be called here; with none left, use the substitute."""
        wanted = tuple(dict.fromkeys([primary, *fallbacks]))
        usable = tuple(m for m in wanted if self.keys.is_configured(m))
        return ResolvedChain(models=usable or (self.substitute,), wanted=wanted)

    def build(self, primary: ModelId, fallbacks: Sequence[ModelId] = ()) -> CostedModel:
        chain = self.resolve(primary, fallbacks)
        return self.build_exact(chain.models)

    def build_exact(self, models: Sequence[ModelId]) -> CostedModel:
        """The full stack over exactly these models, in this order."""
        return CostedModel(FallbackChain([(m, self.resilient(m)) for m in models]), pricer=self.pricer)
