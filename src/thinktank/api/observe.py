"""Every request observed: a request id on each log line of the request (and on the response), an
access line, and the request counted by route pattern (so ids never become metric labels).

A plain ASGI middleware rather than `@app.middleware("http")`: Starlette's `BaseHTTPMiddleware`
passes every chunk of a streamed response through a memory channel and a second task, which on a
live SSE stream with a hundred watchers is most of the time from an event to its delivery.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONVERSATION_IN_PATH = re.compile(r"/conversations/([0-9a-f-]{36})")
access = logging.getLogger("thinktank.access")


class RequestObserver:
    """Binds the request id and conversation id for logging, then logs and counts the request
    when its response has been sent (or failed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or secrets.token_hex(8)
        path: str = scope["path"]
        conversation = CONVERSATION_IN_PATH.search(path)
        structlog.contextvars.bind_contextvars(
            request_id=request_id, conversation_id=conversation.group(1) if conversation else None
        )
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._record(scope, status=status, elapsed=time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id", "conversation_id")

    @staticmethod
    def _record(scope: Scope, *, status: int, elapsed: float) -> None:
        # `remember_route` keeps the matched pattern in the request's state (shared by every copy of
        # the scope); an unmatched path is counted as such.
        pattern = scope.get("state", {}).get("route_pattern") or "unmatched"
        if pattern != "/metrics":
            app = scope.get("app")
            service = getattr(getattr(app, "state", None), "service", None)
            if service is not None:
                service.metrics.requests.labels(scope["method"], pattern, str(status)).inc()
                service.metrics.request_seconds.labels(pattern).observe(elapsed)
        access.info(
            "%s %s %s %.1f ms",
            scope["method"],
            scope["path"],  # never the query string: sign-in links carry their token there
            status,
            elapsed * 1000,
        )
