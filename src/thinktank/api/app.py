"""`create_app(settings)`: everything is built here, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from fastapi import Depends, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from thinktank.accounts.oauth import OAuthSignIn, providers_from_env
from thinktank.accounts.retention import AccountData
from thinktank.accounts.signin import BrowserSignIn, LogMailer, Mailer, SignIn, SmtpMailer
from thinktank.accounts.tiers import load_tiers
from thinktank.accounts.tokens import Users
from thinktank.api import errors
from thinktank.api.guards import MAX_BODY_BYTES, BodyLimit, LocalOriginGuard
from thinktank.api.observe import RequestObserver
from thinktank.api.routes import (
    account,
    auth,
    batches,
    conversations,
    events,
    keys,
    local_server,
    models,
    steering,
    tokens,
)
from thinktank.api.routes import library as library_routes
from thinktank.assembly import factory_from_settings, open_keystore, running_service
from thinktank.library.loader import load_library
from thinktank.ops.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from thinktank.presenters.schemas import ERROR_RESPONSES
from thinktank.settings import Settings, check_secrets
from thinktank.store.db import Database
from thinktank.web import account as account_forms
from thinktank.web import fragments, pages, servers
from thinktank.web.assets import STATIC_DIR
from thinktank.web.render import build_templates, error_page, install_redirects

API_PREFIX = "/api/v1"


def remember_route(request: Request) -> None:
    """Keep the matched route's pattern where the outer middleware can read it (request.state is
    shared by every copy of the request's scope), so ids never become metric labels."""
    pattern = getattr(request.scope.get("route"), "path", None)
    if pattern is not None and request.url.path.startswith(API_PREFIX) and not pattern.startswith(API_PREFIX):
        pattern = API_PREFIX + pattern  # routers of the API are included under their prefix
    request.state.route_pattern = pattern


def create_app(
    settings: Settings,
    *,
    http_client: httpx2.AsyncClient | None = None,
    oauth_transport: httpx2.AsyncBaseTransport | None = None,
    heartbeat_seconds: float = events.HEARTBEAT_SECONDS,
) -> FastAPI:
    """`http_client` and `oauth_transport` replace the network for provider and sign-in calls (tests
    pass fakes)."""
    check_secrets(settings)
    library = load_library(user_dir=settings.library_dir)
    factory = factory_from_settings(settings, http_client=http_client)
    db = Database(settings.resolved_database_url())
    tiers = load_tiers(settings.tiers_file)
    validation_client = http_client or httpx2.AsyncClient(timeout=30.0)
    keystore = open_keystore(settings, db, http_client=validation_client)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with running_service(
                settings, role="web", db=db, library=library, factory=factory, keystore=keystore, tiers=tiers
            ) as service:
                app.state.service = service
                yield
        finally:
            await db.dispose()
            if http_client is None:
                await validation_client.aclose()

    app = FastAPI(
        title="ThinkTank",
        version="0.1.0",
        description="A panel of AI personas discusses your question. Live events stream over SSE.",
        lifespan=lifespan,
        dependencies=[Depends(remember_route)],
    )
    app.state.heartbeat_seconds = heartbeat_seconds
    app.state.auth = settings.auth
    app.state.cookie_secure = settings.cookie_secure
    # The account services the routes use; the conversation service joins them at start-up.
    app.state.users = Users(db)
    app.state.account_data = AccountData(db)
    app.state.signin = None
    app.state.oauth = None
    if settings.auth == "multi" and settings.secret_key:
        mailer: Mailer = (
            SmtpMailer(settings.smtp_url, sender=settings.mail_from) if settings.smtp_url else LogMailer()
        )
        signin = SignIn(secret=settings.secret_key, mailer=mailer, public_url=settings.public_url)
        app.state.signin = BrowserSignIn(signin, db)
        app.state.oauth = OAuthSignIn(
            providers=providers_from_env(settings.env),
            secret=settings.secret_key,
            public_url=settings.public_url,
            transport=oauth_transport,
        )
    errors.install(app, page=error_page)
    install_redirects(app)
    app.state.templates = build_templates()

    app.add_middleware(RequestObserver)
    # Added last, so they run first: before a route, authentication or the access log sees anything.
    if settings.auth == "local":
        app.add_middleware(LocalOriginGuard, public_urls=[settings.public_url])
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus exposition of this process (restrict it to your network at the proxy)."""
        body = await request.app.state.service.render_metrics()
        return Response(body, media_type=METRICS_CONTENT_TYPE)

    for router in (
        auth.router,
        account.router,
        tokens.router,
        keys.router,
        local_server.router,
        library_routes.router,
        conversations.router,
        steering.router,
        events.router,
        models.router,
        batches.router,
    ):
        app.include_router(router, prefix=API_PREFIX, responses=ERROR_RESPONSES)

    app.include_router(pages.router)
    app.include_router(fragments.router)
    app.include_router(account_forms.router)
    app.include_router(servers.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
