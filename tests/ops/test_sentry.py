"""Sentry only with SENTRY_DSN: nothing is initialised without it; with it, errors arrive scrubbed."""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sentry_sdk

from thinktank.ops.sentry import init_sentry
from thinktank.settings import Settings


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    """A stand-in Sentry on loopback that keeps every envelope it is sent."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.append(body)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_address[1]}/1", received
    finally:
        sentry_sdk.get_client().close(timeout=2)
        server.shutdown()
        server.server_close()


def test_without_a_dsn_nothing_is_initialised() -> None:
    assert init_sentry(Settings(), process="web") is False
    assert not sentry_sdk.get_client().is_active()


def test_with_a_dsn_errors_are_reported_without_secrets(collector: tuple[str, list[bytes]]) -> None:
    dsn, received = collector
    assert init_sentry(Settings(sentry_dsn=dsn, environment="staging"), process="web:1") is True
    logging.getLogger("thinktank.test").error(
        "the provider failed with key sk-ant-api03-abcdefghijklmnop", extra={"api_key": "sk-secret-1234"}
    )
    sentry_sdk.flush(timeout=5)
    assert received, "the error reached Sentry"
    body = b"".join(received)
    assert b"the provider failed" in body
    assert b"staging" in body
    assert b"sk-ant-api03-abcdefghijklmnop" not in body
    assert b"sk-secret-1234" not in body
