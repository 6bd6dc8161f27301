"""What every request passes before any route, authentication or body parsing sees it.

- `BodyLimit`: a request body is at most MAX_BODY_BYTES, counted while it is read, so a chunked
  body with no (or a false) Content-Length is cut off at the limit, not read whole. A NUL
  character anywhere in the path, the query or the body's text is refused (422) here too:
  PostgreSQL cannot store one, so it would fail half-way through a change.
- `LocalOriginGuard` (local mode, where there is no sign-in): the server answers only to the names
  it is reached by (a loopback address or the public URL), so a DNS-rebound name cannot read it,
  and a change (POST, PUT, PATCH, DELETE) must come from its own pages or from a client that is
  not a browser (no Origin, no Referer), so another web site cannot drive it with the user's keys.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 256 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))  # the rest of the body is never read
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses a request body over `max_bytes` while it is read (413), before any route or auth runs."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        # Read the body up to the limit before anything else runs; what fits is handed on as one
        # message, and a body past the limit is refused without reading the rest.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        content = b"".join(chunks)
        if _has_nul(scope, content):
            await _refuse(send, 422, "validation_failed", "text cannot contain NUL characters (\\u0000)")
            return
        body: Message = {"type": "http.request", "body": content, "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _too_large(self, send: Send) -> None:
        await _refuse(send, 413, "too_large", f"request bodies are limited to {self.max_bytes} bytes")


def _has_nul(scope: Scope, body: bytes) -> bool:
    if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
        return True
    if not body:
        return False
    kind = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
    if kind == b"application/json" or kind.endswith(b"+json"):
        try:
            return _nul_in(json.loads(body))
        except ValueError:
            return False  # not JSON after all: the route answers that
    return b"\x00" in body or b"%00" in body


def _nul_in(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_nul_in(k) or _nul_in(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_nul_in(v) for v in value)
    return False


def _replay(first: list[Message], receive: Receive) -> Receive:
    pending = list(first)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # a disconnect, for streaming responses

    return replayed


def _hostname(netloc: str) -> str:
    """'Example.COM:8000' → 'example.com'; '[::1]:8000' → '::1'."""
    return (urlsplit(f"//{netloc}").hostname or "").lower()


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


class LocalOriginGuard:
    """In local mode: answers only requests for this server's own host (421) and refuses
    cross-origin writes (403)."""

    def __init__(self, app: ASGIApp, *, public_urls: Iterable[str]) -> None:
        self.app = app
        netlocs = [urlsplit(url).netloc.lower() for url in public_urls if url]
        self.public_netlocs = set(netlocs)
        self.public_hosts = {_hostname(netloc) for netloc in netlocs}

    def _known_host(self, hostname: str) -> bool:
        return _is_loopback(hostname) or hostname in self.public_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if not self._known_host(_hostname(host)):
            await _refuse(
                send,
                421,
                "unknown_host",
                "this server answers only on its loopback address or public URL, not on "
                f"{_hostname(host) or 'an empty Host'}",
            )
            return
        if scope.get("method", "GET") not in SAFE_METHODS and not self._same_origin(headers, host):
            await _refuse(
                send,
                403,
                "cross_origin",
                "a change must come from ThinkTank's own pages (or a client that is not a browser)",
            )
            return
        await self.app(scope, receive, send)

    def _same_origin(self, headers: dict[str, str], host: str) -> bool:
        """A browser names the page a request comes from (Origin, else Referer); without either it
        is not a browser's cross-site request. Sent from elsewhere, or hidden ("null"): refused."""
        if headers.get("sec-fetch-site") == "cross-site":
            return False
        source = headers.get("origin") or headers.get("referer")
        if source is None:
            return True
        netloc = urlsplit(source).netloc.lower()
        return bool(netloc) and (netloc == host.lower() or netloc in self.public_netlocs)
