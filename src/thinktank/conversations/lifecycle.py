"""New conversations: create one from a spec, fork one at a message, rerun one with one change,
and compare two side by side. Every new row is built by `Setup.row`."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.accounts.plans import Plans
from thinktank.conversations.model_rules import ModelRules
from thinktank.conversations.operations import MemoOrWrite, SetRunMode, Target
from thinktank.conversations.ownership import Ownership
from thinktank.conversations.personas import UserLibrary
from thinktank.conversations.registry import Live, Registry
from thinktank.domain import DiscussionMode, Persona
from thinktank.domain.vocabulary import ENDED
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.setup import ConversationSpec, ScorerName, resolve_personas
from thinktank.errors import ConversationBusy, UnknownIdError, UserError
from thinktank.models.ids import ModelId
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.tables import Conversation


@dataclass(frozen=True, kw_only=True)
class Setup:
    """How a conversation runs, as its row holds it: a fork or a rerun copies its source's and
    changes what it changes."""

    topic: str
    template_id: str | None
    mode: str
    scorer: str
    settings: dict[str, Any]
    seed: int
    speed: int
    max_messages: int | None
    max_cost: Decimal | None
    forked_from_id: str | None = None
    forked_at: int | None = None

    @classmethod
    def of(cls, row: Conversation) -> Setup:
        return cls(
            topic=row.topic,
            template_id=row.template_id,
            mode=row.mode,
            scorer=row.scorer,
            settings=dict(row.settings or {}),
            seed=row.seed,
            speed=row.speed,
            max_messages=row.max_messages,
            max_cost=row.max_cost,
            forked_from_id=row.forked_from_id,
            forked_at=row.forked_at,
        )

    def row(self, *, user_id: str, title: str) -> Conversation:
        return Conversation(user_id=user_id, title=title[:200], **dataclasses.asdict(self))


class Lifecycle:
    """Creates, forks, reruns and compares conversations."""

    def __init__(
        self,
        db: Database,
        *,
        registry: Registry,
        ownership: Ownership,
        personas: UserLibrary,
        plans: Plans,
        rules: ModelRules,
    ) -> None:
        self.db = db
        self.registry = registry
        self.ownership = ownership
        self.personas = personas
        self.plans = plans
        self.rules = rules

    async def _insert(
        self, session: AsyncSession, *, user_id: str, setup: Setup, title: str, panel: Sequence[Persona]
    ) -> Conversation:
        row = setup.row(user_id=user_id, title=title)
        session.add(row)
        await session.commit()
        await repo.save_members(session, user_id=user_id, conversation_id=row.id, personas=panel)
        return row

    async def create(self, *, user_id: str, spec: ConversationSpec, title: str | None = None) -> Conversation:
        row, _ = await self.create_viewed(user_id=user_id, spec=spec, title=title)
        return row

    async def create_viewed(
        self, *, user_id: str, spec: ConversationSpec, title: str | None = None
    ) -> tuple[Conversation, ConversationEngine]:
        """A new conversation and its engine as just built: to show it, a web process of a
        deployment (which does not hold what it creates) would otherwise restore it all again."""
        topic, mode, panel, messages = resolve_personas(spec, await self.personas.of(user_id))
        await self.plans.check_panel_size(user_id, size=len(panel))
        chosen = [spec.model_override, spec.scorer_model, spec.summary_model]
        self.rules.check(chosen if spec.model_override else [*chosen, *self.rules.first_models(panel)])
        if spec.model_override is None:
            for persona in panel:
                self.rules.check_persona(persona)
        setup = Setup(
            topic=topic,
            template_id=spec.template_id,
            mode=mode,
            scorer=spec.scorer,
            settings={
                "scorer_model": None if spec.scorer_model is None else str(spec.scorer_model),
                "summary_model": None if spec.summary_model is None else str(spec.summary_model),
                "model_override": None if spec.model_override is None else str(spec.model_override),
                "context_budget_tokens": spec.context_budget_tokens,
                "reply_tokens": spec.reply_tokens,
                "turn_delay": spec.turn_delay,
            },
            seed=spec.seed if spec.seed is not None else secrets.randbelow(2**31),
            speed=spec.speed,
            max_messages=messages,
            max_cost=spec.max_cost,
        )
        async with self.db.session() as session:
            row = await self._insert(session, user_id=user_id, setup=setup, title=title or topic, panel=panel)
            await repo.count_template_use(
                session, template_id=spec.template_id, persona_ids=[p.id for p in panel]
            )
            await session.commit()
        live = await self.registry.live(user_id=user_id, conversation_id=row.id)
        await _store_topic(live)
        return row, live.engine

    async def fork(
        self,
        *,
        user_id: str,
        conversation_id: str,
        at_index: int,
        persona_ids: Sequence[str] = (),
        mode: DiscussionMode | None = None,
        model: ModelId | None = None,
        scorer: ScorerName | None = None,
        seed: int | None = None,
        title: str | None = None,
    ) -> Conversation:
        """A new conversation that shares this one's transcript up to `at_index` (stored once, read
        from here) and then goes its own way: other personas, another mode, model, scorer or seed."""
        parent_live = await self.registry.live(user_id=user_id, conversation_id=conversation_id)
        if parent_live.retention == "none":
            raise UserError("with retention 'none' nothing is stored, so there is nothing to fork from")
        last = len(parent_live.engine.messages) - 1
        if not 0 <= at_index <= last:
            raise UserError(f"at_index must be a message of this conversation: 0 to {last}")
        if persona_ids:
            mine = await self.personas.of(user_id)
            panel = [mine.persona(pid) for pid in dict.fromkeys(persona_ids)]
        else:
            panel = list(parent_live.engine.personas)
        await self.plans.check_panel_size(user_id, size=len(panel))
        self.rules.check([model] if model is not None else self.rules.first_models(panel))
        async with self.db.session() as session:
            parent = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            setup = Setup.of(parent)
            settings = setup.settings
            if model is not None:
                settings["model_override"] = str(model)
            setup = dataclasses.replace(
                setup,
                mode=mode or parent.mode,
                scorer=scorer or parent.scorer,
                seed=parent.seed if seed is None else seed,
                forked_from_id=parent.id,
                forked_at=at_index,
            )
            title = title or f"{parent.title} (fork at #{at_index})"
            return await self._insert(session, user_id=user_id, setup=setup, title=title, panel=panel)

    async def fork_tree(self, *, user_id: str, conversation_id: str) -> dict[str, Any]:
        """The whole family of a conversation, from its root: id, title, fork point, children."""
        async with self.db.session() as session:
            root_id = (await repo.lineage(session, user_id=user_id, conversation_id=conversation_id))[0][0]

            async def node(row: Conversation) -> dict[str, Any]:
                children = await repo.forks_of(session, user_id=user_id, conversation_id=row.id)
                return {
                    "id": row.id,
                    "title": row.title,
                    "forked_at": row.forked_at,
                    "children": [await node(child) for child in children],
                }

            return await node(await repo.get_conversation(session, user_id=user_id, conversation_id=root_id))

    async def rerun(
        self,
        *,
        user_id: str,
        conversation_id: str,
        persona_models: Mapping[str, ModelId] | None = None,
        scorer: ScorerName | None = None,
        seed: int | None = None,
    ) -> Conversation:
        """The same setup again with exactly one thing changed (a persona's model, the scorer or the
        seed), run to its end in the server; compare the two with `compare`."""
        changes = [persona_models is not None, scorer is not None, seed is not None]
        if sum(changes) != 1:
            raise UserError("a rerun changes exactly one thing: persona_models, scorer or seed")
        self.rules.check((persona_models or {}).values())
        original = await self.registry.live(user_id=user_id, conversation_id=conversation_id)
        panel = _rerun_panel(original, persona_models)
        async with self.db.session() as session:
            source = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            setup = Setup.of(source)
            settings = setup.settings
            if persona_models:
                settings["model_override"] = None
            settings["turn_delay"] = 0.0
            settings["rerun_of"] = source.id
            change = (
                f"models: {', '.join(f'{k}={v}' for k, v in persona_models.items())}"
                if persona_models
                else f"scorer: {scorer}"
                if scorer
                else f"seed: {seed}"
            )
            settings["rerun_change"] = change
            if scorer == "llm":
                settings.setdefault("scorer_model", None)
            # A fork's rerun is a fork at the same point: it shares the same start, not a new one.
            setup = dataclasses.replace(
                setup, scorer=scorer or source.scorer, seed=source.seed if seed is None else seed
            )
            title = f"{source.title} (rerun, {change})"
            row = await self._insert(session, user_id=user_id, setup=setup, title=title, panel=panel)
        live = await self.registry.live(user_id=user_id, conversation_id=row.id)
        if row.forked_from_id is None:
            await _store_topic(live)
        await self.ownership.run(Target(user_id, row.id), SetRunMode(mode="auto"))
        return row

    async def compare(self, *, user_id: str, first: str, second: str) -> dict[str, Any]:
        """Two conversations side by side: setup, cost and decision memo (written if missing)."""
        sides = {}
        for key, conversation_id in (("first", first), ("second", second)):
            live = await self.registry.live(user_id=user_id, conversation_id=conversation_id)
            ended = live.engine.status in ENDED
            if (live.running or live.engine.status == "running") and not ended:
                raise ConversationBusy("a conversation being compared is still running; compare when it ends")
            memo = await self.ownership.run(Target(user_id, conversation_id), MemoOrWrite())
            async with self.db.session() as session:
                row = await repo.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
            engine = live.engine
            sides[key] = {
                "id": conversation_id,
                "title": row.title,
                "change": (row.settings or {}).get("rerun_change"),
                "scorer": row.scorer,
                "seed": row.seed,
                "models": {m.persona.id: [str(x) for x in m.models] for m in engine.members},
                "messages": engine.persona_message_count(),
                "totals": engine.totals.to_json()["total"],
                "memo": memo,
            }
        return sides


def _rerun_panel(original: Live, persona_models: Mapping[str, ModelId] | None) -> list[Persona]:
    """The original panel, with the named personas on their new models."""
    panel = list(original.engine.personas)
    if persona_models and original.override is not None:
        # Everyone keeps the model they ran on; only the named personas change.
        panel = [p.model_copy(update={"model": str(original.override), "fallbacks": []}) for p in panel]
    if persona_models:
        ids = {p.id for p in panel}
        for persona_id in persona_models:
            if persona_id not in ids:
                raise UnknownIdError("member", persona_id, suggestions=sorted(ids))
        panel = [
            p.model_copy(update={"model": str(persona_models[p.id]), "fallbacks": []})
            if p.id in persona_models
            else p
            for p in panel
        ]
    return panel


async def _store_topic(live: Live) -> None:
    """A new conversation's first message is its topic, from the user; a fork inherits its own."""
    await live.engine.persistence.message_saved(live.engine.messages[0])
