"""One error body for every error: {"error": {"code", "message", "details"}}. No stack traces."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from thinktank import errors

log = logging.getLogger(__name__)

_USER_ERRORS: list[tuple[type[errors.UserError], int, str]] = [
    (errors.NotSignedIn, 401, "not_signed_in"),
    (errors.CsrfFailed, 403, "csrf_failed"),
    (errors.TooManyAttempts, 429, "rate_limited"),
    (errors.UnknownIdError, 404, "not_found"),
    (errors.BudgetExceeded, 402, "budget_exceeded"),
    (errors.ConversationBusy, 409, "busy"),
    (errors.ConversationOver, 409, "conversation_ended"),
    (errors.InvalidModelIdError, 422, "invalid_model_id"),
    (errors.LibraryError, 422, "invalid_persona"),
    (errors.ConfigurationError, 422, "not_configured"),
    (errors.UserError, 400, "bad_request"),
]


NOT_PAGES = ("/api/", "/ui/", "/static/", "/metrics", "/healthz", "/openapi.json", "/docs", "/redoc")
"""Paths whose errors stay JSON: the API, htmx fragments (app.js reads their message) and assets."""

PageError = Callable[[Request, int, str], Response]
"""Renders an error as a page with navigation: (request, status, message) -> HTML response."""


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def is_page(request: Request) -> bool:
    """A browser asking for a page (any GET outside the API), as opposed to a script or a client."""
    path = request.url.path
    return request.method in ("GET", "HEAD") and not any(
        path == p.rstrip("/") or path.startswith(p) for p in NOT_PAGES
    )


def install(app: FastAPI, *, page: PageError | None = None) -> None:
    """Every error as one JSON body; with `page`, a GET of a page gets that page instead."""

    def answer(
        request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        if page is not None and is_page(request):
            return page(request, status, str(body["error"]["message"]))
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(errors.UserError)
    async def user_error(request: Request, exc: errors.UserError) -> Response:
        for kind, status, code in _USER_ERRORS:
            if isinstance(exc, kind):
                details = {"suggestions": exc.suggestions} if isinstance(exc, errors.UnknownIdError) else None
                headers = {}
                if isinstance(exc, errors.TooManyAttempts):
                    headers["Retry-After"] = str(int(exc.retry_after) + 1)
                return answer(request, status, error_body(code, str(exc), details), headers)
        return answer(request, 400, error_body("bad_request", str(exc)))  # pragma: no cover

    @app.exception_handler(errors.ProviderFailure)
    async def provider_failure(request: Request, exc: errors.ProviderFailure) -> Response:
        log.warning("provider failure on %s %s: %s", request.method, request.url.path, exc)
        details = {"provider": exc.provider, "status_code": exc.status_code}
        return answer(request, 502, error_body("provider_failed", errors.public_message(exc), details))

    @app.exception_handler(errors.ProviderUnreachable)
    async def provider_unreachable(request: Request, exc: errors.ProviderUnreachable) -> Response:
        body = error_body("provider_unreachable", str(exc), {"provider": exc.provider})
        return answer(request, 503, body, {"Retry-After": "5"})

    @app.exception_handler(errors.ServerFault)
    async def server_fault(request: Request, exc: errors.ServerFault) -> Response:
        # The operator's problem, not the caller's: logged in full, answered without the details.
        log.error("server fault on %s %s: %s", request.method, request.url.path, exc)
        message = "the server cannot open its stored secrets; the operator has been told"
        return answer(request, 500, error_body("server_fault", message))

    @app.exception_handler(errors.ServiceUnavailable)
    async def unavailable(request: Request, exc: errors.ServiceUnavailable) -> Response:
        body = error_body("service_unavailable", str(exc))
        return answer(request, 503, body, {"Retry-After": "5"})

    @app.exception_handler(RedisError)
    async def redis_unreachable(request: Request, exc: RedisError) -> Response:
        log.warning("Redis could not be reached on %s %s: %s", request.method, request.url.path, exc)
        message = "the live-update service (Redis) cannot be reached; nothing was lost, try again shortly"
        return answer(request, 503, error_body("service_unavailable", message), {"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return answer(request, 422, error_body("validation_failed", message, problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        # The exception's headers too: a 405 says which methods are allowed (Allow).
        headers = dict(exc.headers) if exc.headers else None
        return answer(request, exc.status_code, error_body(code, str(exc.detail)), headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return answer(request, 500, error_body("internal_error", "something went wrong on our side"))
