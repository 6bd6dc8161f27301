"""Personas (the library and mine) and templates."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thinktank.domain import Persona
from thinktank.domain.suggest import closest
from thinktank.engine.drafting import MAX_SENTENCE
from thinktank.errors import UnknownIdError, UserError
from thinktank.presenters.deps import CurrentUser, Service
from thinktank.presenters.library import PersonaDraftPublic, persona_draft, template_public
from thinktank.presenters.schemas import PersonaIn, PersonaPublic, TemplatePublic

router = APIRouter(tags=["personas and templates"])


@router.get("/personas", response_model=list[PersonaPublic])
async def list_personas(
    service: Service,
    user: CurrentUser,
    category: str | None = Query(None, description="Only this category (case-insensitive)"),
    search: str | None = Query(
        None, max_length=200, description="Words in name, role, description or expertise"
    ),
) -> list[PersonaPublic]:
    mine = await service.my_personas(user)
    entries = [PersonaPublic(source="library", persona=p) for p in service.library.personas.values()]
    entries += [PersonaPublic(source="mine", persona=p) for p in mine]
    if category:
        entries = [e for e in entries if e.persona.category.lower() == category.lower()]
    if search:
        needle = search.lower()
        entries = [e for e in entries if needle in _searchable(e.persona)]
    return entries


def _searchable(persona: Persona) -> str:
    return " ".join([persona.name, persona.role, persona.description, *persona.expertise]).lower()


class DraftRequest(BaseModel):
    """A persona described in one sentence, and the model that drafts it."""

    model_config = ConfigDict(extra="forbid")
    sentence: str = Field(min_length=1, max_length=MAX_SENTENCE, description="Who, in one sentence")
    model: str | None = Field(None, description="Model id that writes the draft (default: the substitute)")


# Fields the model left unset stay out, as they do in the builder's form.
@router.post("/personas/draft", response_model=PersonaDraftPublic, response_model_exclude_none=True)
async def draft_a_persona(body: DraftRequest, service: Service, user: CurrentUser) -> PersonaDraftPublic:
    """Draft a persona from one sentence with the chosen model; edit it, then POST /personas to save."""
    fields = await persona_draft(service, user, sentence=body.sentence, model=body.model)
    return PersonaDraftPublic.model_validate(fields)


@router.get("/personas/{persona_id}", response_model=PersonaPublic)
async def get_persona(persona_id: str, service: Service, user: CurrentUser) -> PersonaPublic:
    mine = {p.id: p for p in await service.my_personas(user)}
    if persona_id in mine:
        return PersonaPublic(source="mine", persona=mine[persona_id])
    return PersonaPublic(source="library", persona=service.library.persona(persona_id))


@router.post("/personas", response_model=PersonaPublic, status_code=201)
async def create_persona(body: PersonaIn, service: Service, user: CurrentUser) -> PersonaPublic:
    persona = Persona.model_validate(body.model_dump())
    service.check_persona_models(persona)
    await service.save_persona(user_id=user, persona=persona, create=True)
    return PersonaPublic(source="mine", persona=persona)


@router.put("/personas/{persona_id}", response_model=PersonaPublic)
async def update_persona(
    persona_id: str, body: PersonaIn, service: Service, user: CurrentUser
) -> PersonaPublic:
    if body.id != persona_id:
        raise UserError(f"the body's id {body.id!r} does not match the URL's {persona_id!r}")
    persona = Persona.model_validate(body.model_dump())
    service.check_persona_models(persona)
    await service.save_persona(user_id=user, persona=persona, create=False)
    return PersonaPublic(source="mine", persona=persona)


@router.delete("/personas/{persona_id}", status_code=204)
async def delete_persona(persona_id: str, service: Service, user: CurrentUser) -> Response:
    await service.delete_persona(user_id=user, persona_id=persona_id)
    return Response(status_code=204)


@router.post("/personas/{persona_id}/duplicate", response_model=PersonaPublic, status_code=201)
async def duplicate_persona(
    persona_id: str,
    service: Service,
    user: CurrentUser,
    new_id: str | None = Query(None, description="Id of the copy (default: ID-copy)"),
) -> PersonaPublic:
    """Copy a library persona into mine, to edit it."""
    original = service.library.persona(persona_id)
    try:
        copy = Persona.model_validate({**original.model_dump(), "id": new_id or f"{persona_id}-copy"})
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise UserError(f"new_id: {problem['msg']}") from None
    await service.save_persona(user_id=user, persona=copy, create=True)
    return PersonaPublic(source="mine", persona=copy)


@router.get("/templates", response_model=list[TemplatePublic])
async def list_templates(
    service: Service, category: str | None = None, industry: str | None = None
) -> list[TemplatePublic]:
    templates = [template_public(service, t) for t in service.library.templates]
    if category:
        templates = [t for t in templates if t.category.lower() == category.lower()]
    if industry:
        templates = [t for t in templates if t.industry.lower() == industry.lower()]
    return templates


@router.get("/templates/{template_id}", response_model=TemplatePublic)
async def get_template(template_id: str, service: Service) -> TemplatePublic:
    if template_id not in service.library.templates:
        raise UnknownIdError(
            "template", template_id, suggestions=closest(template_id, service.library.templates)
        )
    return template_public(service, template_id)
