"""`create_app(settings)`: everything is built here, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from thinktank.api import errors
from thinktank.api.routes import conversations, events, models, steering
from thinktank.api.routes import library as library_routes
from thinktank.events.log import EventBus
from thinktank.library.loader import load_library
from thinktank.models.stack import ModelFactory
from thinktank.pricing.prices import Pricer
from thinktank.service import ConversationService
from thinktank.settings import Settings
from thinktank.store.db import Database

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 256 * 1024


def create_app(
    settings: Settings,
    *,
    factory: ModelFactory | None = None,
    heartbeat_seconds: float = events.HEARTBEAT_SECONDS,
) -> FastAPI:
    library = load_library(user_dir=settings.library_dir)
    factory = factory or ModelFactory(
        keys=settings.keys, pricer=Pricer(markup=settings.markup), scripted_latency=settings.scripted_latency
    )
    db = Database(settings.resolved_database_url())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if db.is_sqlite:
            await db.upgrade()
        elif await db.current_revision() != db.head_revision():
            raise RuntimeError("the database schema is not current: run `thinktank db upgrade` first")
        service = ConversationService(db=db, library=library, factory=factory, bus=EventBus())
        await service.start()
        app.state.service = service
        try:
            yield
        finally:
            await service.close()
            await db.dispose()

    app = FastAPI(
        title="ThinkTank",
        version="0.1.0",
        description="A panel of AI personas discusses your question. Live events stream over SSE.",
        lifespan=lifespan,
    )
    app.state.heartbeat_seconds = heartbeat_seconds
    errors.install(app)

    @app.middleware("http")
    async def limit_body_size(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            body = errors.error_body("too_large", f"request bodies are limited to {MAX_BODY_BYTES} bytes")
            return JSONResponse(body, status_code=413)
        return await call_next(request)

    for router in (
        library_routes.router,
        conversations.router,
        steering.router,
        events.router,
        models.router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
