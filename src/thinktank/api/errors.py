"""One error body for every error: {"error": {"code", "message", "details"}}. No stack traces."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.UserError)
    async def user_error(request: Request, exc: errors.UserError) -> JSONResponse:
        for kind, status, code in _USER_ERRORS:
            if isinstance(exc, kind):
                details = {"suggestions": exc.suggestions} if isinstance(exc, errors.UnknownIdError) else None
                headers = {}
                if isinstance(exc, errors.TooManyAttempts):
                    headers["Retry-After"] = str(int(exc.retry_after) + 1)
                return JSONResponse(error_body(code, str(exc), details), status_code=status, headers=headers)
        return JSONResponse(error_body("bad_request", str(exc)), status_code=400)  # pragma: no cover

    @app.exception_handler(errors.ProviderFailure)
    async def provider_failure(request: Request, exc: errors.ProviderFailure) -> JSONResponse:
        log.warning("provider failure on %s %s: %s", request.method, request.url.path, exc)
        details = {"provider": exc.provider, "status_code": exc.status_code}
        body = error_body("provider_failed", errors.public_message(exc), details)
        return JSONResponse(body, status_code=502)

    @app.exception_handler(errors.ProviderUnreachable)
    async def provider_unreachable(request: Request, exc: errors.ProviderUnreachable) -> JSONResponse:
        body = error_body("provider_unreachable", str(exc), {"provider": exc.provider})
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(errors.ServerFault)
    async def server_fault(request: Request, exc: errors.ServerFault) -> JSONResponse:
        # The operator's problem, not the caller's: logged in full, answered without the details.
        log.error("server fault on %s %s: %s", request.method, request.url.path, exc)
        message = "the server cannot open its stored secrets; the operator has been told"
        return JSONResponse(error_body("server_fault", message), status_code=500)

    @app.exception_handler(errors.ServiceUnavailable)
    async def unavailable(request: Request, exc: errors.ServiceUnavailable) -> JSONResponse:
        body = error_body("service_unavailable", str(exc))
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(RedisError)
    async def redis_unreachable(request: Request, exc: RedisError) -> JSONResponse:
        log.warning("Redis could not be reached on %s %s: %s", request.method, request.url.path, exc)
        message = "the live-update service (Redis) cannot be reached; nothing was lost, try again shortly"
        return JSONResponse(
            error_body("service_unavailable", message), status_code=503, headers={"Retry-After": "5"}
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return JSONResponse(error_body("validation_failed", message, problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        # The exception's headers too: a 405 says which methods are allowed (Allow).
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "something went wrong on our side"), status_code=500)
