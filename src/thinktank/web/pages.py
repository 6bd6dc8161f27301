"""Full pages. Each reads through the same service methods and presenters as the JSON API."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from thinktank.accounts.keys import KEYED_PROVIDERS
from thinktank.domain import Persona
from thinktank.errors import ConversationBusy
from thinktank.presenters.account import preferences_of
from thinktank.presenters.deps import AccountDataDep
from thinktank.presenters.keys import my_keys
from thinktank.presenters.library import template_public
from thinktank.presenters.local_server import local_server_status
from thinktank.presenters.schemas import MAX_TOPIC
from thinktank.web.charts import bar_chart
from thinktank.web.render import PageUser, UiService, render
from thinktank.web.views import (
    available_models,
    conversation_rows,
    first_run,
    known_personas,
    model_choices,
    room_context,
    similar_templates,
)

router = APIRouter(include_in_schema=False)
OVERHEAD = {"orchestrator": "Choosing speakers", "summaries": "Summaries", "memo": "Decision memos"}
"""Cost accounts that are not personas, as the costs page names them."""


@router.get("/", response_class=HTMLResponse)
async def gallery(
    request: Request,
    service: UiService,
    user: PageUser,
    industry: str | None = Query(None, max_length=80),
) -> Response:
    factory = await service.factory_for(user, touch=False)
    templates = [template_public(service, t, factory=factory) for t in service.library.templates]
    industries = sorted({t.industry for t in templates})
    shown = [t for t in templates if t.industry.lower() == industry.lower()] if industry else templates
    return render(
        request,
        "gallery.html",
        active="gallery",
        templates=sorted(shown, key=lambda t: (t.category, t.name)),
        industries=industries,
        industry=industry,
        unknown_industry=bool(industry) and not shown,
        personas=service.library.personas,
        first_run=await first_run(service, user),
    )


@router.get("/new", response_class=HTMLResponse)
async def new_conversation(
    request: Request,
    service: UiService,
    user: PageUser,
    template: str | None = Query(None, max_length=80),
    persona: Annotated[list[str] | None, Query(description="Persona ids to preselect")] = None,
) -> Response:
    mine = await service.my_personas(user)
    chosen = service.library.templates.get(template) if template else None
    missing = template if template and chosen is None else None
    selected = set(chosen.personas if chosen else persona or [])
    everyone: list[tuple[str, Persona]] = [("library", p) for p in service.library.personas.values()]
    everyone += [("mine", p) for p in mine]
    # The ticked panel comes first: the list scrolls, and a template's panel below the fold reads
    # as one persona ticked out of four.
    everyone.sort(key=lambda entry: entry[1].id not in selected)
    return render(
        request,
        "new.html",
        active="new",
        template=chosen,
        templates=service.library.templates,
        everyone=everyone,
        categories=sorted({p.category for _, p in everyone}),
        selected=selected,
        models=await available_models(service, user),
        first_run=await first_run(service, user),
        missing_template=missing,
        suggestions=similar_templates(service.library.templates.values(), missing) if missing else [],
        max_topic=MAX_TOPIC,
    )


@router.get("/c/{conversation_id}", response_class=HTMLResponse)
async def room(request: Request, conversation_id: str, service: UiService, user: PageUser) -> Response:
    return render(
        request, "room.html", active="history", **await room_context(service, user, conversation_id)
    )


@router.get("/personas", response_class=HTMLResponse)
async def personas(request: Request, service: UiService, user: PageUser) -> Response:
    mine = await service.my_personas(user)
    return render(
        request,
        "personas.html",
        active="personas",
        library=list(service.library.personas.values()),
        mine=mine,
        categories=sorted({p.category for p in [*service.library.personas.values(), *mine]}),
    )


async def _builder(
    request: Request, service: UiService, user: str, *, persona: dict[str, Any] | None, editing: str | None
) -> Response:
    persona = persona or {}
    return render(
        request,
        "persona_form.html",
        active="personas",
        persona=persona,
        editing=editing,
        errors={},
        models=await model_choices(service, user, persona),
    )


@router.get("/personas/new", response_class=HTMLResponse)
async def persona_new(
    request: Request, service: UiService, user: PageUser, start_from: str | None = Query(None, alias="from")
) -> Response:
    """A blank builder, or one filled in from an existing persona (duplicate)."""
    persona = None
    if start_from:
        original = await service.persona(user_id=user, persona_id=start_from)
        persona = {**original.model_dump(), "id": f"{original.id}-copy", "name": f"{original.name} (copy)"}
    return await _builder(request, service, user, persona=persona, editing=None)


@router.get("/personas/{persona_id}/edit", response_class=HTMLResponse)
async def persona_edit(request: Request, persona_id: str, service: UiService, user: PageUser) -> Response:
    persona = await service.my_persona(user_id=user, persona_id=persona_id)
    return await _builder(request, service, user, persona=persona.model_dump(), editing=persona_id)


@router.get("/history", response_class=HTMLResponse)
async def history(
    request: Request, service: UiService, user: PageUser, search: str | None = Query(None, max_length=200)
) -> Response:
    rows, next_cursor = await conversation_rows(service, user, search=search, cursor=None)
    return render(
        request, "history.html", active="history", rows=rows, next_cursor=next_cursor, search=search or ""
    )


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(
    request: Request, service: UiService, data: AccountDataDep, user: PageUser
) -> Response:
    budget = await service.budget_for(user)
    return render(
        request,
        "settings.html",
        active="settings",
        keys=await my_keys(service, user),
        providers=KEYED_PROVIDERS,
        preferences=await preferences_of(data, user),
        usage=await budget.usage(),
        status=await local_server_status(service, user),
    )


@router.get("/costs", response_class=HTMLResponse)
async def costs(request: Request, service: UiService, user: PageUser) -> Response:
    spent = await service.spending(user_id=user)
    conversations = {c.id: c for c in await service.all_conversations(user_id=user)}
    names = {pid: p.name for pid, p in (await known_personas(service, user)).items()}

    def billed(line: dict[str, Any]) -> Decimal:
        return Decimal(line["billed_usd"] or 0)

    totals = spent.total.to_json()
    by_day = [(day, billed(t.total.to_json())) for day, t in sorted(spent.by_day.items())[-30:]]
    by_provider = sorted(((k, billed(v)) for k, v in totals["by_provider"].items()), key=lambda x: -x[1])
    # Picking speakers, summarising and memos are booked under their own accounts: not personas.
    accounts = totals["by_persona"].items()
    by_persona = sorted(
        ((names.get(k, k), billed(v)) for k, v in accounts if k not in OVERHEAD), key=lambda x: -x[1]
    )
    overhead = [(label, billed(v)) for k, label in OVERHEAD.items() if (v := totals["by_persona"].get(k))]
    table = [
        {"conversation": conversations.get(cid), "id": cid, **t.total.to_json()}
        for cid, t in sorted(spent.by_conversation.items(), key=lambda kv: -billed(kv[1].total.to_json()))
    ]
    return render(
        request,
        "costs.html",
        active="costs",
        total=totals["total"],
        day_chart=bar_chart(by_day, title="Billed spend per day (UTC), last 30 days"),
        provider_chart=bar_chart(by_provider, title="Billed spend per provider"),
        persona_chart=bar_chart(by_persona, title="Billed spend per persona"),
        overhead=overhead,
        table=table,
    )


@router.get("/compare/{first}/{second}", response_class=HTMLResponse)
async def compare(request: Request, first: str, second: str, service: UiService, user: PageUser) -> Response:
    """A rerun beside its original: while either still runs, the page polls until both are done."""
    try:
        sides = await service.compare(user_id=user, first=first, second=second)
    except ConversationBusy:
        sides = None
    rows = [await service.conversation(user_id=user, conversation_id=c) for c in (first, second)]
    return render(
        request,
        "compare.html",
        active="history",
        sides=sides,
        rows=rows,
        names={pid: p.name for pid, p in (await known_personas(service, user)).items()},
    )


@router.get("/signin", response_class=HTMLResponse, response_model=None)
async def signin(request: Request, next_path: str = Query("/", alias="next", max_length=500)) -> Response:
    if request.app.state.auth != "multi":
        return RedirectResponse("/", status_code=303)
    oauth = request.app.state.oauth
    return render(
        request,
        "signin.html",
        active="",
        providers=list(oauth.names) if oauth is not None else [],
        next_path=next_path if next_path.startswith("/") and not next_path.startswith("//") else "/",
    )
