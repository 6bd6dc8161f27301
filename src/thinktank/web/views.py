"""What pages show, gathered from the service: the room, history rows, pickers' options."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from thinktank.accounts.keys import KEYED_PROVIDERS
from thinktank.conversations import ConversationService
from thinktank.domain import Persona
from thinktank.domain.library import ConversationTemplate
from thinktank.presenters.conversations import conversation_public
from thinktank.presenters.models import model_availability
from thinktank.presenters.schemas import ConversationPublic
from thinktank.store.tables import Conversation

ROOM_PAGE = 50
"""Messages rendered with the room; older ones load as the reader scrolls up."""
USER_AVATAR = {"emoji": "🧑", "color": "#64748b"}
MEMO_PATIENCE = timedelta(minutes=2)


def similar_templates(templates: Iterable[ConversationTemplate], wanted: str) -> list[ConversationTemplate]:
    """Templates whose id or name is close to what was asked for, best first (at most three)."""
    by_key = {t.id: t for t in templates} | {t.name.lower(): t for t in templates}
    close = difflib.get_close_matches(wanted.lower(), list(by_key), n=6, cutoff=0.5)
    found: dict[str, ConversationTemplate] = {}
    for key in close:
        found.setdefault(by_key[key].id, by_key[key])
    return list(found.values())[:3]


async def available_models(service: ConversationService, user_id: str) -> list[str]:
    """Only models that can be called here now, with my keys and my local server's models: the
    builder and pickers offer nothing else."""
    return [m.model_id for m in await model_availability(service, user_id) if m.available]


async def model_choices(
    service: ConversationService, user_id: str, persona: Mapping[str, Any]
) -> dict[str, bool]:
    """The builder's model options: every model that can be called here, and the persona's own
    models even when they cannot (a duplicated library persona keeps its model, marked, instead
    of the select silently falling back to nothing). Model id -> callable here."""
    choices = dict.fromkeys(await available_models(service, user_id), True)
    for model in [persona.get("model"), *(persona.get("fallbacks") or [])]:
        if isinstance(model, str) and model and model not in choices:
            choices[model] = False
    return choices


async def first_run(service: ConversationService, user_id: str) -> dict[str, Any] | None:
    """What a user with no key and no local server gets, to say it plainly; None once they have one."""
    factory = await service.factory_for(user_id, touch=False)
    keys = factory.keys
    if keys.openai_compatible_base_url or any(keys.key_for(p) for p in KEYED_PROVIDERS):
        return None
    return {
        "substitute": str(factory.substitute),
        "scripted": factory.substitute.provider == "scripted",
        "ollama": await factory.catalog.detect_ollama(),
    }


async def known_personas(
    service: ConversationService, user_id: str, extra: Iterable[Persona] = ()
) -> dict[str, Persona]:
    """Everyone who may appear in my transcripts: the library, mine, and a conversation's own."""
    known = {p.id: p for p in service.library.personas.values()}
    known |= {p.id: p for p in await service.my_personas(user_id)}
    known |= {p.id: p for p in extra}
    return known


async def avatars_for(
    service: ConversationService, user_id: str, extra: Iterable[Persona] = ()
) -> dict[str, dict[str, str]]:
    known = await known_personas(service, user_id, extra)
    return {"user": USER_AVATAR} | {pid: p.avatar.model_dump() for pid, p in known.items()}


async def message_views(
    service: ConversationService,
    user_id: str,
    conversation_id: str,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = ROOM_PAGE,
) -> list[dict[str, Any]]:
    page = await service.messages_page(
        user_id=user_id, conversation_id=conversation_id, after=after, before=before, limit=limit
    )
    return [m.to_json() for m in page]


async def panel_context(service: ConversationService, user_id: str, conversation_id: str) -> dict[str, Any]:
    """The room's sidebar: members, the latest pick, who can join, branches, the rerun form. It is
    re-rendered after every message, so it reads nothing else."""
    engine = await service.engine(user_id=user_id, conversation_id=conversation_id)
    row = await service.conversation(user_id=user_id, conversation_id=conversation_id)
    members = {m.persona.id: m.persona for m in engine.members}
    everyone = [*service.library.personas.values(), *await service.my_personas(user_id)]
    last_decision = next((m.decision for m in reversed(engine.messages) if m.decision is not None), None)
    return {
        "conversation": conversation_public(row, engine),
        "members": members,
        "members_json": {pid: p.model_dump(mode="json") for pid, p in members.items()},
        "last_decision": None if last_decision is None else last_decision.to_json(),
        "candidates": [p for p in everyone if p.id not in members],
        "models": await available_models(service, user_id),
        "tree": await service.fork_tree(user_id=user_id, conversation_id=conversation_id),
        "rerun_of": (row.settings or {}).get("rerun_of"),
    }


def memo_pending(*, status: str, running_here: bool, row: Conversation, memo: dict[str, Any] | None) -> bool:
    """Whether the memo a run writes at its end is on its way: then the room waits for it instead
    of offering to pay for another. Its runner still going says so here; a run driven elsewhere (a
    worker) says so by having finished in auto mode a moment ago."""
    if memo is not None or status != "finished":
        return False
    if running_here:
        return True
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return row.run_mode == "auto" and datetime.now(UTC) - updated < MEMO_PATIENCE


async def memo_context(service: ConversationService, user_id: str, conversation_id: str) -> dict[str, Any]:
    engine = await service.engine(user_id=user_id, conversation_id=conversation_id)
    known = await known_personas(service, user_id, engine.personas)
    memo = await service.memo(user_id=user_id, conversation_id=conversation_id)
    row = await service.conversation(user_id=user_id, conversation_id=conversation_id)
    # Only a finished run without its memo yet needs to know (a snapshot from another process costs a read).
    running_here = (
        memo is None
        and engine.status == "finished"
        and await service.running_here(user_id=user_id, conversation_id=conversation_id)
    )
    return {
        "memo": memo,
        "memo_pending": memo_pending(status=engine.status, running_here=running_here, row=row, memo=memo),
        "names": {pid: p.name for pid, p in known.items()},
        "models": await available_models(service, user_id),
    }


async def room_context(service: ConversationService, user_id: str, conversation_id: str) -> dict[str, Any]:
    engine = await service.engine(user_id=user_id, conversation_id=conversation_id)
    # Subscribe from before the snapshot: what lands in between arrives twice and the page keeps one.
    # Mid-reply, from before that turn began: the words said so far are replayed, not lost.
    speaking = engine.busy or engine.status == "running"
    since = (speaking and await service.bus.open_turn(conversation_id)) or await service.bus.last_id(
        conversation_id
    )
    context = await panel_context(service, user_id, conversation_id)
    messages = await message_views(service, user_id, conversation_id, before=2**31 - 1)
    budget = await service.budget_for(user_id)
    conversation = context["conversation"]
    fork_point = conversation.forked_at if conversation.forked_from else None
    return (
        context
        | await memo_context(service, user_id, conversation_id)
        | {
            "fresh_fork": fork_point is not None and len(engine.messages) == fork_point + 1,
            "messages": messages,
            "has_older": bool(messages) and messages[0]["index"] > 0,
            "since": since,
            "avatars": await avatars_for(service, user_id, engine.personas),
            "usage": await budget.usage(),
        }
    )


async def conversation_rows(
    service: ConversationService, user_id: str, *, search: str | None, cursor: str | None
) -> tuple[list[tuple[ConversationPublic, dict[str, Any]]], str | None]:
    """A page of my conversations, newest first, each with what it cost."""
    rows, next_cursor = await service.conversations(
        user_id=user_id, limit=25, cursor=cursor, search=search or None
    )
    spent = await service.spending(user_id=user_id, conversation_ids=[r.id for r in rows])
    result = []
    for row in rows:
        totals = spent.by_conversation.get(row.id)
        cost = totals.total.to_json() if totals else {"billed_usd": "0", "raw_usd": "0"}
        result.append((conversation_public(row), cost))
    return result, next_cursor
