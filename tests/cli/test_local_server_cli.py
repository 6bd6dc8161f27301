"""`thinktank models` with a local OpenAI-compatible server: a tiny server on loopback answers
`GET /v1/models`, so the real HTTP path runs; nothing leaves the machine."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app
from thinktank.models.guard import network_models

runner = CliRunner()


class _Models(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/v1/models":
            self.send_error(404)
            return
        body = json.dumps({"data": [{"id": "llama3.2:3b"}, {"id": "qwen2.5:0.5b"}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def loopback_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with network_models(True):
            yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_models_lists_a_servers_models(loopback_server: str) -> None:
    result = runner.invoke(app, ["models", "--server", loopback_server])
    assert result.exit_code == 0, result.output
    assert f"{loopback_server}/v1 offers 2 model(s)" in result.output
    assert "openai-compatible:qwen2.5:0.5b" in result.output


def test_the_configured_server_is_listed_with_the_providers(
    loopback_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINKTANK_OPENAI_COMPATIBLE_BASE_URL", f"{loopback_server}/v1")
    result = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "openai-compatible:llama3.2:3b" in result.output


def test_unreachable_and_invalid_servers_are_one_readable_line(loopback_server: str) -> None:
    closed = runner.invoke(app, ["models", "--server", "http://127.0.0.1:9"])
    assert closed.exit_code == 2
    assert "is the server running?" in closed.output
    wrong = runner.invoke(app, ["models", "--server", f"{loopback_server}/api"])
    assert wrong.exit_code == 2
    assert "answered 404" in wrong.output
    invalid = runner.invoke(app, ["models", "--server", "ftp://x"])
    assert invalid.exit_code == 2
    assert "must start with http://" in invalid.output
