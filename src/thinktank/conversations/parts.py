"""The parts of a conversation service, built and wired once: which part needs which.

`Registry` keeps the conversations; `Ownership` runs operations where they are held, through the
`Handlers` that `Steering`, `Memos` and `Removal` register; `AutoRuns`, `Lifecycle` and `Upkeep`
use both. Built here so the facade (`service.py`) only routes calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thinktank.accounts.budget import UsageLedger
from thinktank.accounts.keys import KeyStore
from thinktank.accounts.plans import Plans
from thinktank.accounts.ratelimit import RateLimiter
from thinktank.accounts.tiers import Tiers
from thinktank.accounts.user_models import UserModels
from thinktank.conversations.lifecycle import Lifecycle
from thinktank.conversations.memos import Memos
from thinktank.conversations.messages import MessagePages
from thinktank.conversations.model_rules import ModelRules
from thinktank.conversations.operations import Handlers
from thinktank.conversations.ownership import Ownership
from thinktank.conversations.personas import UserLibrary
from thinktank.conversations.reads import ConversationReads
from thinktank.conversations.registry import Registry
from thinktank.conversations.removal import Removal
from thinktank.conversations.runs import AutoRuns
from thinktank.conversations.steering import Steering
from thinktank.conversations.upkeep import Upkeep
from thinktank.events.log import Bus
from thinktank.jobs.scale import Scale
from thinktank.library.loader import Library
from thinktank.models.ids import ModelId
from thinktank.models.stack import ModelFactory
from thinktank.ops.metrics import Metrics
from thinktank.ops.profiles import Profile
from thinktank.store.db import Database


@dataclass(frozen=True, kw_only=True)
class Needs:
    """What the service is given: storage, models, events, and the deployment's rules."""

    db: Database
    library: Library
    factory: ModelFactory
    bus: Bus
    keystore: KeyStore | None
    tiers: Tiers
    ledger: UsageLedger
    scale: Scale | None
    metrics: Metrics
    profile: Profile
    rate_limiter: RateLimiter | None
    local_models: Sequence[ModelId] | None


@dataclass(frozen=True, kw_only=True)
class Parts:
    """Every part of a service, wired."""

    registry: Registry
    ownership: Ownership
    runs: AutoRuns
    lifecycle: Lifecycle
    memos: Memos
    removal: Removal
    upkeep: Upkeep
    pages: MessagePages
    reads: ConversationReads
    personas: UserLibrary
    plans: Plans
    user_models: UserModels
    rules: ModelRules


def assemble(needs: Needs) -> Parts:
    db, bus = needs.db, needs.bus
    plans = Plans(db, tiers=needs.tiers, ledger=needs.ledger, rate_limiter=needs.rate_limiter)
    user_models = UserModels(needs.factory, keystore=needs.keystore)
    rules = ModelRules(needs.profile, local_models=needs.local_models)
    personas = UserLibrary(db, library=needs.library)

    async def session_over(user_id: str, conversation_id: str) -> None:
        # Removal needs the registry, and the registry calls it back: it is built just below.
        await removal.forget(user_id, conversation_id)

    registry = Registry(
        db,
        bus=bus,
        metrics=needs.metrics,
        plans=plans,
        user_models=user_models,
        shared=needs.scale is not None,
        on_ended=session_over,
    )
    handlers = Handlers()
    ownership = Ownership(registry, scale=needs.scale, handlers=handlers)
    runs = AutoRuns(db, registry=registry, ownership=ownership, bus=bus)
    removal = Removal(db, registry=registry, ownership=ownership, bus=bus, keystore=needs.keystore)
    memos = Memos(db, registry=registry, rules=rules)
    Steering(db, registry=registry, runs=runs, plans=plans, rules=rules).register(handlers)
    memos.register(handlers)
    removal.register(handlers)
    handlers.check_complete()
    return Parts(
        registry=registry,
        ownership=ownership,
        runs=runs,
        lifecycle=Lifecycle(
            db, registry=registry, ownership=ownership, personas=personas, plans=plans, rules=rules
        ),
        memos=memos,
        removal=removal,
        upkeep=Upkeep(
            db,
            library=needs.library,
            factory=needs.factory,
            registry=registry,
            ownership=ownership,
            bus=bus,
            metrics=needs.metrics,
        ),
        pages=MessagePages(db, registry=registry),
        reads=ConversationReads(db, registry=registry),
        personas=personas,
        plans=plans,
        user_models=user_models,
        rules=rules,
    )
