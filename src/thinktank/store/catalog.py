"""The library's tables: the bundled personas and templates mirrored in the database, with the
usage counts that the gallery sorts by."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinktank.library.loader import Library
from thinktank.pricing.estimate import estimate_conversation_cost
from thinktank.pricing.prices import Pricer
from thinktank.store.tables import ConversationTemplateRow, PersonaTemplate


async def sync_library(session: AsyncSession, *, library: Library, pricer: Pricer) -> None:
    """Make the library tables match the package data, keeping usage counts and ratings."""
    existing = {row.id: row for row in (await session.scalars(select(PersonaTemplate))).all()}
    for persona in library.personas.values():
        data = persona.model_dump(mode="json")
        row = existing.pop(persona.id, None) or PersonaTemplate(id=persona.id)
        row.category, row.name, row.description = persona.category, persona.name, persona.description
        row.system_prompt, row.default_model = persona.system_prompt, persona.model
        row.expertise_areas, row.data = list(persona.expertise), data
        session.add(row)
    for stale in existing.values():
        await session.delete(stale)
    templates = {row.id: row for row in (await session.scalars(select(ConversationTemplateRow))).all()}
    for template in library.templates.values():
        cost = estimate_conversation_cost(
            library.template_personas(template),
            template.estimated_messages,
            pricer=pricer,
            topic=template.initial_prompt,
        )
        row_t = templates.pop(template.id, None) or ConversationTemplateRow(id=template.id)
        row_t.category, row_t.industry, row_t.name = template.category, template.industry, template.name
        row_t.description, row_t.personas = template.description, list(template.personas)
        row_t.initial_prompt, row_t.conversation_mode = template.initial_prompt, template.mode
        row_t.estimated_messages = template.estimated_messages
        row_t.estimated_cost = None if cost.billed is None else cost.billed.quantize(Decimal("0.0001"))
        row_t.data = template.model_dump(mode="json")
        session.add(row_t)
    for stale_t in templates.values():
        await session.delete(stale_t)
    await session.commit()


async def count_template_use(
    session: AsyncSession, *, template_id: str | None, persona_ids: Sequence[str]
) -> None:
    if template_id is not None:
        await session.execute(
            update(ConversationTemplateRow)
            .where(ConversationTemplateRow.id == template_id)
            .values(usage_count=ConversationTemplateRow.usage_count + 1)
        )
    # One row at a time, in id order: conversations started at the same moment that share personas
    # then lock those rows in the same order, and PostgreSQL never has to abort one of them to break
    # a deadlock (an UPDATE ... IN visits rows in whatever order they lie on disk).
    for persona_id in sorted(set(persona_ids)):
        await session.execute(
            update(PersonaTemplate)
            .where(PersonaTemplate.id == persona_id)
            .values(usage_count=PersonaTemplate.usage_count + 1)
        )
