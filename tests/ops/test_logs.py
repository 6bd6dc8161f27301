"""Structured logs: JSON lines with the request id and conversation id, and never a secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient

from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.ops.logs import configure_logging
from thinktank.settings import Settings


@pytest.fixture
def json_logs() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(log_format="json", process="web:test")
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_each_request_logs_one_json_line_with_its_ids_and_secrets_are_masked(
    json_logs: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}",
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path / "data",
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        cid = client.post(
            "/api/v1/conversations", json={"template_id": "security-review", "model": "scripted"}
        ).json()["id"]
        client.post(f"/api/v1/conversations/{cid}/turns", json={}, headers={"X-Request-ID": "req-42"})
        logging.getLogger("thinktank.test").warning(
            "a provider said: invalid key sk-ant-api03-abcdefghijklmnop", extra={"api_key": "sk-secret-1234"}
        )
        structlog.get_logger("thinktank.test").warning("native", authorization="Bearer abcdefghijkl")
    out = capsys.readouterr().err
    records = lines(out)
    turn = next(r for r in records if r.get("request_id") == "req-42")
    assert turn["conversation_id"] == cid
    assert turn["logger"] == "thinktank.access"
    assert turn["level"] == "info"
    assert turn["process"] == "web:test"
    assert "/turns 200" in str(turn["event"])
    assert "timestamp" in turn
    assert "sk-ant-api03-abcdefghijklmnop" not in out
    assert "abcdefghijkl" not in out
    assert any("[redacted]" in str(r["event"]) for r in records)
    native = next(r for r in records if r["event"] == "native")
    assert native["authorization"] == "[redacted]"
