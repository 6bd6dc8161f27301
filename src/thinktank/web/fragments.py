"""htmx endpoints: pieces of pages, and form posts that answer with HTML (errors next to fields)
or with `HX-Redirect`. Changes go through the same service calls as the JSON API."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from thinktank.domain import Persona
from thinktank.engine.members import chain_for
from thinktank.engine.prompts import system_prompt
from thinktank.engine.setup import ConversationSpec, resolve_personas
from thinktank.errors import (
    ProviderFailure,
    UserError,
)
from thinktank.models.ids import ModelId, parse_model_id
from thinktank.presenters.conversations import create_conversation
from thinktank.presenters.deps import CurrentUser, Service
from thinktank.presenters.library import persona_draft
from thinktank.presenters.schemas import ConversationCreate
from thinktank.pricing.estimate import estimate_conversation_cost
from thinktank.web.forms import (
    FORM_ERRORS,
    FieldErrors,
    conversation_fields,
    panel_problem,
    parse_conversation,
    parse_persona,
    persona_fields,
    user_error_field,
)
from thinktank.web.render import render
from thinktank.web.views import (
    ROOM_PAGE,
    avatars_for,
    conversation_rows,
    memo_context,
    message_views,
    model_choices,
    panel_context,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/ui", include_in_schema=False)
MAX_JUMP = 5000


def redirect(to: str) -> Response:
    return Response(status_code=204, headers={"HX-Redirect": to})


# --- the conversation room ---------------------------------------------------------------------


@router.get("/c/{conversation_id}/older", response_class=HTMLResponse)
async def older_messages(
    request: Request,
    conversation_id: str,
    service: Service,
    user: CurrentUser,
    before: int = Query(ge=0),
    down_to: int | None = Query(None, ge=0, description="Load back to this message (a citation's jump)"),
) -> Response:
    limit = ROOM_PAGE if down_to is None else min(max(before - down_to, ROOM_PAGE), MAX_JUMP)
    messages = await message_views(service, user, conversation_id, before=before, limit=limit)
    return render(
        request,
        "_older.html",
        conversation_id=conversation_id,
        messages=messages,
        has_older=bool(messages) and messages[0]["index"] > 0,
        avatars=await avatars_for(service, user),
    )


@router.get("/c/{conversation_id}/newer", response_class=HTMLResponse)
async def newer_messages(
    request: Request, conversation_id: str, service: Service, user: CurrentUser, after: int = Query(ge=-1)
) -> Response:
    messages = await message_views(service, user, conversation_id, after=after, limit=ROOM_PAGE * 4)
    return render(request, "_messages.html", messages=messages, avatars=await avatars_for(service, user))


@router.get("/c/{conversation_id}/sidebar", response_class=HTMLResponse)
async def sidebar(request: Request, conversation_id: str, service: Service, user: CurrentUser) -> Response:
    return render(request, "_sidebar.html", **await panel_context(service, user, conversation_id))


@router.get("/c/{conversation_id}/memo", response_class=HTMLResponse)
async def memo(request: Request, conversation_id: str, service: Service, user: CurrentUser) -> Response:
    return render(request, "_memo.html", **await memo_context(service, user, conversation_id))


# --- starting conversations --------------------------------------------------------------------


async def _start(service: Service, user: str, body: ConversationCreate, *, run_mode: str) -> Response:
    created = await create_conversation(service, user, body)
    if run_mode == "auto":
        await service.set_run_mode(user_id=user, conversation_id=created.id, mode="auto")
    return redirect(f"/c/{created.id}")


@router.post("/start/{template_id}")
async def start_template(template_id: str, service: Service, user: CurrentUser) -> Response:
    """The gallery's one click: the template as designed, running by itself."""
    return await _start(
        service, user, ConversationCreate.model_validate({"template_id": template_id}), run_mode="auto"
    )


NEW_FORM_FIELDS = (
    "template_id",
    "topic",
    "title",
    "mode",
    "max_cost",
    "max_messages",
    "model",
    "persona_ids",
)


def _new_form_errors(request: Request, errors: FieldErrors) -> Response:
    """The New form's problems, each next to its field (out-of-band swaps that also clear the old
    ones); what belongs to no field stays by the submit button."""
    known = {name: errors.get(name, "") for name in NEW_FORM_FIELDS}
    rest = {k: v for k, v in errors.items() if k not in known}
    return render(request, "_new_errors.html", status_code=FORM_ERRORS, fields=known, rest=rest)


@router.post("/conversations", response_class=HTMLResponse)
async def start_conversation(request: Request, service: Service, user: CurrentUser) -> Response:
    form = await request.form()
    body, errors = parse_conversation(form, service.library.templates)
    if body is None:
        return _new_form_errors(request, errors)
    try:
        return await _start(service, user, body, run_mode=str(form.get("run_mode") or "auto"))
    except UserError as error:
        return _new_form_errors(request, {user_error_field(error): str(error)})


def _why_here(model_id: ModelId) -> str:
    """Why a persona's model cannot run, in the page's terms: Settings, not environment variables."""
    if model_id.provider == "openai-compatible":
        return "no local model server set in Settings"
    return f"no {model_id.provider} key in Settings"


@router.get("/estimate", response_class=HTMLResponse)
async def estimate(request: Request, service: Service, user: CurrentUser) -> Response:
    """What the panel being put together would cost, and who has no key (and what stands in)."""
    fields = conversation_fields(request.query_params, service.library.templates)
    problem: str | None = None
    rows: list[dict[str, Any]] = []
    cost = running = None
    messages = 0
    try:
        override = parse_model_id(fields["model"]) if fields.get("model") else None
        library = service.library_with(await service.my_personas(user))
        spec = ConversationSpec(
            template_id=fields.get("template_id"),
            topic=fields.get("topic") or ("(your topic)" if not fields.get("template_id") else None),
            persona_ids=fields["persona_ids"],
            max_messages=int(fields["max_messages"])
            if str(fields.get("max_messages", "")).isdigit()
            else None,
        )
        # An empty panel is told the form's "at least 2", not the engine's "at least one"; a
        # panel with ids gets the engine's word on an unknown one first.
        if not fields["persona_ids"] and (size_problem := panel_problem(fields)):
            raise UserError(size_problem)
        topic, _mode, personas, messages = resolve_personas(spec, library)
        if size_problem := panel_problem(fields):
            raise UserError(size_problem)
        factory = await service.factory_for(user)
        chains = {p.id: chain_for(p, factory, override=override) for p in personas}
        cost, running = (
            estimate_conversation_cost(
                personas,
                messages,
                pricer=factory.pricer,
                topic=topic,
                model_override=override,
                model_for=model_for,
            )
            for model_for in (None, lambda p: chains[p.id].models[0])
        )
        for persona in personas:
            chain = chains[persona.id]
            rows.append(
                {
                    "persona": persona,
                    "uses": [str(m) for m in chain.models],
                    "substituted": chain.substituted,
                    "why": _why_here(persona.model_id) if chain.substituted else None,
                }
            )
    except UserError as error:
        problem = str(error)
    return render(
        request, "_estimate.html", cost=cost, running=running, messages=messages, rows=rows, problem=problem
    )


# --- the persona builder -----------------------------------------------------------------------


@router.post("/personas", response_class=HTMLResponse)
async def save_persona(request: Request, service: Service, user: CurrentUser) -> Response:
    form = await request.form()
    editing = str(form.get("editing") or "") or None
    body, errors = parse_persona(form)
    if body is not None:
        persona = Persona.model_validate(body.model_dump())
        if editing and persona.id != editing:
            errors = {"id": "a persona's id cannot change; duplicate it to make a new one"}
        else:
            try:
                await service.save_persona(user_id=user, persona=persona, create=editing is None)
                return redirect(f"/personas#mine-{persona.id}")
            except UserError as error:
                errors = {"id" if "id" in str(error) else "": str(error)}
    fields = persona_fields(form)
    return render(
        request,
        "_persona_fields.html",
        status_code=FORM_ERRORS,
        persona=fields,
        editing=editing,
        errors=errors,
        models=await model_choices(service, user, fields),
    )


@router.post("/personas/draft", response_class=HTMLResponse)
async def draft_persona_fields(request: Request, service: Service, user: CurrentUser) -> Response:
    """The builder filled in by a model from one sentence, to edit before saving."""
    form = await request.form()
    sentence, model = str(form.get("sentence") or ""), str(form.get("draft_model") or "") or None
    try:
        persona = await persona_draft(service, user, sentence=sentence, model=model)
        errors: FieldErrors = {}
    except (UserError, ProviderFailure) as error:
        persona, errors = persona_fields(form), {"": f"No draft: {error}"}
    return render(
        request,
        "_persona_fields.html",
        persona=persona,
        editing=None,
        errors=errors,
        models=await model_choices(service, user, persona),
    )


@router.post("/personas/preview", response_class=HTMLResponse)
async def preview_persona(request: Request, user: CurrentUser) -> Response:
    """The system prompt this persona would get in a discussion, as the form stands now."""
    fields = persona_fields(await request.form())
    draft = Persona.model_construct(**fields)  # a draft may still be invalid: preview it anyway
    prompt = system_prompt(
        draft, mode="ideation", topic="(the topic of the discussion)", others=[], summary=None
    )
    return render(request, "_preview.html", prompt=prompt)


@router.delete("/personas/{persona_id}", response_class=HTMLResponse)
async def delete_persona(persona_id: str, service: Service, user: CurrentUser) -> Response:
    await service.delete_persona(user_id=user, persona_id=persona_id)
    return HTMLResponse("")


# --- history -----------------------------------------------------------------------------------


@router.get("/history", response_class=HTMLResponse)
async def history_rows(
    request: Request,
    service: Service,
    user: CurrentUser,
    search: str | None = Query(None, max_length=200),
    cursor: str | None = Query(None, max_length=200),
) -> Response:
    rows, next_cursor = await conversation_rows(service, user, search=search, cursor=cursor)
    return render(request, "_history_rows.html", rows=rows, next_cursor=next_cursor, search=search or "")


@router.delete("/conversations/{conversation_id}", response_class=HTMLResponse)
async def delete_conversation(conversation_id: str, service: Service, user: CurrentUser) -> Response:
    await service.delete(user_id=user, conversation_id=conversation_id)
    return HTMLResponse("")
