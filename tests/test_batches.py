"""Batch runs in one process: every template on every topic, progress, per-run results, a total,
and a cap that skips what it cannot afford."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeServer
from tests.models.test_providers import KEYS, openai_stream
from thinktank import batches
from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings


def wait_until_done(client: TestClient, batch_id: str, *, within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        batch: dict[str, Any] = client.get(f"/api/v1/batches/{batch_id}").json()
        if batch["status"] in ("finished", "failed"):
            return batch
        assert time.monotonic() < deadline, batch
        time.sleep(0.1)


def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}",
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path / "d",
        keys=KEYS,
    )


def test_a_batch_runs_every_template_on_every_topic_with_results(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path)), base_url="http://127.0.0.1") as client:
        started = client.post(
            "/api/v1/batches",
            json={
                "name": "pricing",
                "topics": ["Raise prices?", "Open a free tier?"],
                "templates": ["security-review", "startup-product-planning"],
                "max_cost": "1",
                "messages": 2,
                "model": "scripted",
                "concurrency": 2,
            },
        )
        assert started.status_code == 202, started.text
        assert started.json()["progress"] == {"total": 4, "done": 0, "pending": 4}
        batch = wait_until_done(client, started.json()["id"])
        assert batch["status"] == "finished"
        assert batch["progress"]["done"] == 4
        pairs = {(r["template_id"], r["topic"]) for r in batch["runs"]}
        assert len(pairs) == 4
        for run in batch["runs"]:
            assert (run["status"], run["messages"]) == ("finished", 2)
            assert run["recommendation"]
            conversation = client.get(f"/api/v1/conversations/{run['conversation_id']}").json()
            assert conversation["topic"] == run["topic"]
        assert [b["id"] for b in client.get("/api/v1/batches").json()] == [batch["id"]]


def test_a_run_ends_when_its_conversation_settles_woken_by_its_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the fallback re-read far away, only the conversation's own state change can end the wait.
    monkeypatch.setattr(batches, "RECHECK_SECONDS", 600.0)
    with TestClient(create_app(settings(tmp_path)), base_url="http://127.0.0.1") as client:
        started = client.post(
            "/api/v1/batches",
            json={
                "topics": ["Raise prices?"],
                "templates": ["security-review"],
                "max_cost": "1",
                "messages": 2,
                "model": "scripted",
            },
        )
        batch = wait_until_done(client, started.json()["id"], within=30)
    assert batch["status"] == "finished"
    assert [(r["status"], r["messages"]) for r in batch["runs"]] == [("finished", 2)]


def test_the_cap_skips_the_runs_it_cannot_afford(tmp_path: Path) -> None:
    server = FakeServer(always=lambda request: openai_stream("Fine, let us measure it first."))
    with TestClient(
        create_app(settings(tmp_path), http_client=server.client()), base_url="http://127.0.0.1"
    ) as client:
        started = client.post(
            "/api/v1/batches",
            json={
                "topics": ["One?", "Two?", "Three?", "Four?"],
                "templates": ["security-review"],
                "max_cost": "0.004",
                "messages": 2,
                "model": "openai:gpt-4.1-mini",
                "concurrency": 1,
            },
        )
        batch = wait_until_done(client, started.json()["id"])
    statuses = [r["status"] for r in batch["runs"]]
    assert statuses[0] == "finished"
    assert "skipped" in statuses, statuses
    skipped = [r for r in batch["runs"] if r["status"] == "skipped"]
    assert all("cap of $0.004" in r["reason"] for r in skipped)
    total = Decimal(batch["total_cost_usd"])
    assert total > 0
    assert total == sum(Decimal(r.get("cost_usd", "0")) for r in batch["runs"])
    # Every run stopped at what was left of the cap, so the batch passes it by at most one turn.
    one_turn = max(Decimal(r.get("cost_usd", "0")) for r in batch["runs"]) / 2
    assert total <= Decimal("0.004") + one_turn


def test_bad_batches_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path)), base_url="http://127.0.0.1") as client:
        for body, words in [
            ({"topics": ["x"], "templates": ["nope"], "max_cost": "1"}, "unknown template"),
            ({"topics": [], "templates": "all", "max_cost": "1"}, "topics"),
            ({"topics": ["x"], "templates": "all", "max_cost": "0"}, "max_cost"),
            ({"topics": ["x"], "templates": "all", "max_cost": "1", "model": "nope:x"}, "unknown provider"),
            ({"topics": ["x"] * 300, "templates": "all", "max_cost": "1"}, "at most 500"),
        ]:
            response = client.post("/api/v1/batches", json=body)
            assert 400 <= response.status_code < 500, (body, response.text)
            assert words in response.json()["error"]["message"], response.text
        assert client.get("/api/v1/batches/missing").status_code == 404
