"""Rendering templates, and who is looking: a page sends a signed-out visitor to sign in."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, get_args
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from thinktank.conversations import ConversationService
from thinktank.domain import DISCUSSION_MODES
from thinktank.domain.library import Attitude, ExperienceLevel
from thinktank.domain.vocabulary import stopped_on_its_own
from thinktank.errors import NotSignedIn
from thinktank.presenters.deps import get_current_user, get_service
from thinktank.web.assets import TEMPLATES_DIR
from thinktank.web.markdown import render_markdown


class SignInRedirect(Exception):
    """Raised by a page that needs a signed-in user: answered with a redirect to sign in."""

    def __init__(self, path: str) -> None:
        self.path = path


async def page_user(request: Request) -> str:
    try:
        return await get_current_user(request)
    except NotSignedIn:
        raise SignInRedirect(request.url.path) from None


PageUser = Annotated[str, Depends(page_user)]
UiService = Annotated[ConversationService, Depends(get_service)]


def usd(value: Any, places: int = 4) -> str:
    """Money as users read it: `$0.0123`; an unknown price (a model without one) is `n/a`."""
    if value is None or value == "":
        return "n/a"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return "n/a"
    if amount != 0 and abs(amount) < Decimal(10) ** -places:
        return f"${amount:.{places + 2}f}"
    return f"${amount:,.{places}f}"


def clock(value: datetime | str | None) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%H:%M:%S")


def cost_here(value: Any) -> str:
    """A cost that may be nothing because the model runs on this machine: "free" then."""
    try:
        if value not in (None, "") and Decimal(str(value)) == 0:
            return "free"
    except InvalidOperation:
        pass
    return usd(value)


def day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def persona_value(persona: dict[str, Any], dotted: str) -> str:
    """A builder field's current value from a (possibly half-filled) persona: lists as "a, b"."""
    value: Any = persona
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is None:
        return "#6366f1" if dotted == "avatar.color" else ""
    return str(value)


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.filters["usd"] = usd
    templates.env.filters["clock"] = clock
    templates.env.filters["cost_here"] = cost_here
    templates.env.filters["day"] = day
    templates.env.filters["markdown"] = render_markdown
    # The choices a persona's fields allow, wherever a form offers them (builder, room sidebar).
    templates.env.globals["modes"] = DISCUSSION_MODES
    templates.env.globals["attitudes"] = get_args(Attitude)
    templates.env.globals["levels"] = get_args(ExperienceLevel)
    templates.env.globals["persona_value"] = persona_value
    templates.env.globals["stopped_on_its_own"] = stopped_on_its_own
    return templates


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    context.setdefault("active", "")
    context["auth"] = request.app.state.auth
    return templates.TemplateResponse(request, name, context, status_code=status_code)


ERROR_TITLES = {404: "Page not found", 401: "Please sign in", 403: "Not allowed", 409: "Not right now"}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """A failed page as a page: what went wrong in words, and the navigation to go on from there."""
    if status == 404 and message == "Not Found":
        message = f"There is no page at {request.url.path}."
    elif status >= 500:
        message = "Something went wrong on our side. Nothing you did caused it; try again in a moment."
    title = ERROR_TITLES.get(status, "Something went wrong" if status >= 500 else "That did not work")
    return render(request, "error.html", status_code=status, status=status, title=title, message=message)


def install_redirects(app: FastAPI) -> None:
    @app.exception_handler(SignInRedirect)
    async def to_signin(request: Request, exc: SignInRedirect) -> Response:
        return RedirectResponse(f"/signin?next={quote(exc.path)}", status_code=303)
